/* fuzz_render: gateway/render.c on any Event the broker could send.
 *
 * An input is a packed chat.Event (proto/chat.proto). Whatever it holds
 * (missing strings, invalid UTF-8, huge counts), render_event() must either
 * refuse it (NULL) or produce one compact JSON object whose first key is
 * "type"; so must render_msg() for each message a `joined` replays. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_check.h"
#include "render.h"

/* A frame, when there is one, is a JSON object with "type" first. */
static void check_frame(struct frame *f)
{
    if (!f) return;
    CHECK(f->refs == 1);
    const char *p = (const char *)frame_payload(f);
    CHECK(f->len > 9 && !memcmp(p, "{\"type\":\"", 9));
    CHECK(p[f->len] == '\0');
    json_error_t err;
    json_t *j = json_loadb(p, f->len, 0, &err);
    CHECK(json_is_object(j));
    CHECK(json_is_string(json_object_get(j, "type")));
    json_decref(j);
    frame_ref(f);
    frame_unref(f);
    frame_unref(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Chat__Event *ev = chat__event__unpack(NULL, size, data);
    if (!ev) return 0;
    check_frame(render_event(ev));
    if (ev->ev_case == CHAT__EVENT__EV_JOINED)
        for (size_t i = 0; i < ev->joined->n_replay; i++)
            check_frame(render_msg(ev->joined->replay[i]));
    chat__event__free_unpacked(ev, NULL);
    return 0;
}
