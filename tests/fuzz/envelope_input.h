/* envelope_input: the input format of fuzz_envelope, shared with the seed
 * generator (gen_seeds.c).
 *
 * An input is a sequence of records, each either
 *
 *     [op < 0x80][len: 2 bytes, little-endian][len bytes: a packed Upstream]
 *         received on the broker's ROUTER socket from gateway
 *         ENVELOPE_GATEWAYS[op % 3];
 *     [op >= 0x80]
 *         the broker's clock moves on by (op & 0x7f) * ENVELOPE_TICK_MS and
 *         the broker runs the timers that are due.
 *
 * A record cut short by the end of the input takes what is left. Every input
 * starts on a fresh broker that gateways 0 and 1 have said hello to (with
 * instances 1 and 2). A hello whose resume_session is "~N" (N decimal)
 * resumes the Nth session welcomed in this input, counting from 0 and modulo
 * their number: tokens are random, which no fuzzer could guess. */
#ifndef CHAT_FUZZ_ENVELOPE_INPUT_H
#define CHAT_FUZZ_ENVELOPE_INPUT_H

#define ENVELOPE_TICK 0x80
#define ENVELOPE_TICK_MS 100
#define ENVELOPE_RESUME_MARK '~'

/* Gateway 2 has no socket: sends to it fail, as to a gateway that vanished. */
static const char *const ENVELOPE_GATEWAYS[3] = {"gw-a", "gw-b", "gw-x"};

#endif
