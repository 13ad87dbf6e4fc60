/* API tokens: how a studio or a cluster proves who it is to `xisuan serve`.
 *
 * A token is "xs1_<principal id>_<secret>", the secret 32 random bytes
 * (libsodium's randombytes) in base64url, 43 characters. The service stores
 * only a salt (16 random bytes) and BLAKE2b-256 of the secret keyed with that
 * salt (libsodium's crypto_generichash); a check recomputes it and compares in
 * constant time (sodium_memcmp). A slow password hash (Argon2) would add
 * nothing here: the secret has 256 bits of entropy, so guessing it is hopeless
 * whatever the hash costs, while every request pays the hash. The salt keeps
 * two principals' hashes unrelated and precomputed tables useless. The token's
 * text is shown once, when it is made; it is never logged.
 */
#ifndef XS_TOKEN_H
#define XS_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { XS_TOKEN_SALT = 16, XS_TOKEN_HASH = 32, XS_TOKEN_TEXT = 96 };

/* Initialises libsodium; call once before the others (any thread after). */
xs_result xs_token_init(xs_err *err);

/* A new token for principal id: its text (NUL-terminated) and what to store. */
xs_result xs_token_new(int64_t id, char text[XS_TOKEN_TEXT], uint8_t salt[XS_TOKEN_SALT],
                       uint8_t hash[XS_TOKEN_HASH], xs_err *err);

/* Splits a token's text into the principal id and the secret (a pointer into
 * text). False when text is not a well-formed token. */
bool xs_token_parse(const char *text, int64_t *id, const char **secret);

/* True when secret hashes, with salt, to hash (constant-time comparison). */
bool xs_token_check(const char *secret, const uint8_t salt[XS_TOKEN_SALT],
                    const uint8_t hash[XS_TOKEN_HASH]);

#ifdef __cplusplus
}
#endif
#endif
