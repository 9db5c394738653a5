/* text: the string rules of PROTOCOL.md shared by gateway and broker.
 * All inputs are valid UTF-8 (the JSON decoder guarantees it). */
#ifndef CHAT_TEXT_H
#define CHAT_TEXT_H

#include <stddef.h>

/* Number of Unicode code points in a valid UTF-8 string of len bytes. */
size_t text_codepoints(const char *s, size_t len);

/* 1 if the string is empty or only Unicode white space. */
int text_is_blank(const char *s, size_t len);

/* 1 if s is a nick: 1..max code points of [A-Za-z0-9_.-]. */
int text_valid_nick(const char *s, size_t len, size_t max);

/* 1 if s is a room: 1..max code points of [a-z0-9_.#-]. */
int text_valid_room(const char *s, size_t len, size_t max);

/* ASCII lower-case copy of a nick into out (size >= len + 1): the key under
 * which nicks are compared case-insensitively. */
void text_fold(const char *s, size_t len, char *out);

#endif
