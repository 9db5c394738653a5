#include "text.h"

#include <stdint.h>

size_t text_codepoints(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) n++;
    return n;
}

/* Decodes one code point of valid UTF-8 at s[*i], advancing *i. */
static uint32_t next_cp(const unsigned char *s, size_t len, size_t *i)
{
    uint32_t c = s[(*i)++];
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    c &= extra == 3 ? 0x07 : extra == 2 ? 0x0F : extra == 1 ? 0x1F : 0x7F;
    while (extra-- > 0 && *i < len) c = (c << 6) | (s[(*i)++] & 0x3F);
    return c;
}

static int is_space(uint32_t c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200B) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

int text_is_blank(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len)
        if (!is_space(next_cp((const unsigned char *)s, len, &i))) return 0;
    return 1;
}

static int valid_chars(const char *s, size_t len, size_t max, int upper_ok, int hash_ok)
{
    if (len < 1 || len > max) return 0; /* ASCII only: bytes == code points */
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')
            continue;
        if (upper_ok && c >= 'A' && c <= 'Z') continue;
        if (hash_ok && c == '#') continue;
        return 0;
    }
    return 1;
}

int text_valid_nick(const char *s, size_t len, size_t max)
{
    return valid_chars(s, len, max, 1, 0);
}

int text_valid_room(const char *s, size_t len, size_t max)
{
    return valid_chars(s, len, max, 0, 1);
}

void text_fold(const char *s, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i];
    out[len] = '\0';
}
