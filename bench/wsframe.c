/* wsframe.c: WebSocket upgrade and framing, client side (see wsframe.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "wsframe.h"

uint64_t wsframe_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void base64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

size_t wsframe_request(char *buf, size_t cap, const char *hostport, const char *path, uint64_t rnd1,
                       uint64_t rnd2)
{
    uint8_t key[16];
    char key64[32];
    memcpy(key, &rnd1, 8);
    memcpy(key + 8, &rnd2, 8);
    base64(key, sizeof key, key64);
    int n = snprintf(buf, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "Origin: http://%s\r\n\r\n",
                     path, hostport, key64, hostport);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* memmem for the end of the header, without _GNU_SOURCE worries. */
static const char *find_crlf2(const char *buf, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
            return buf + i + 1;
    return NULL;
}

long wsframe_response(const char *buf, size_t len, char *why, size_t whycap)
{
    const char *end = find_crlf2(buf, len);
    if (!end) return 0;
    size_t line = strcspn(buf, "\r");
    if (len < 12 || strncasecmp(buf, "HTTP/1.1 101", 12) != 0) {
        snprintf(why, whycap, "upgrade refused: %.*s", (int)(line < 40 ? line : 40), buf);
        return -1;
    }
    return (long)(end - buf);
}

static void mask_bytes(uint8_t *p, size_t n, uint32_t mask)
{
    uint8_t m[4];
    memcpy(m, &mask, 4);
    size_t i = 0;
    if (n >= 8) {
        uint64_t m8 = (uint64_t)mask | (uint64_t)mask << 32;
        for (; i + 8 <= n; i += 8) {
            uint64_t v;
            memcpy(&v, p + i, 8);
            v ^= m8;
            memcpy(p + i, &v, 8);
        }
    }
    for (; i < n; i++) p[i] ^= m[i & 3];
}

size_t wsframe_wrap(uint8_t *p, size_t n, enum wsframe_op op, uint32_t mask)
{
    uint8_t hdr[WSFRAME_MAX_HEADER];
    size_t h = 0;
    hdr[h++] = (uint8_t)(0x80 | op);
    if (n < 126) {
        hdr[h++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (uint8_t)(n >> 8);
        hdr[h++] = (uint8_t)n;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int s = 56; s >= 0; s -= 8) hdr[h++] = (uint8_t)((uint64_t)n >> s);
    }
    memcpy(hdr + h, &mask, 4); /* the key's bytes in memory order, as mask_bytes uses them */
    h += 4;
    mask_bytes(p, n, mask);
    memcpy(p - h, hdr, h);
    return h;
}

long wsframe_next(uint8_t *buf, size_t len, size_t max, struct wsframe *f)
{
    if (len < 2) return 0;
    size_t h = 2;
    uint64_t n = buf[1] & 0x7f;
    int masked = buf[1] & 0x80;
    if (n == 126) {
        if (len < 4) return 0;
        n = (uint64_t)buf[2] << 8 | buf[3];
        h = 4;
    } else if (n == 127) {
        if (len < 10) return 0;
        n = 0;
        for (int i = 2; i < 10; i++) n = n << 8 | buf[i];
        h = 10;
    }
    if (n > max) return -1;
    if (masked) h += 4;
    if (len < h + n) return 0;
    f->op = (enum wsframe_op)(buf[0] & 0x0f);
    f->fin = !!(buf[0] & 0x80);
    f->payload = buf + h;
    f->len = (size_t)n;
    if (masked) {
        uint32_t mask;
        memcpy(&mask, buf + h - 4, 4);
        mask_bytes(f->payload, f->len, mask);
    }
    return (long)(h + n);
}
