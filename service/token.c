/* API tokens (see xs_token.h): libsodium's random bytes, keyed BLAKE2b and
 * constant-time comparison. */
#include "service/xs_token.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

enum { SECRET_BYTES = 32 };

xs_result xs_token_init(xs_err *err)
{
    if (sodium_init() < 0)
        return xs_err_set(err, XS_ERR_INTERNAL, "libsodium: sodium_init failed");
    return XS_OK;
}

static void secret_hash(const char *secret, const uint8_t salt[XS_TOKEN_SALT],
                        uint8_t hash[XS_TOKEN_HASH])
{
    crypto_generichash(hash, XS_TOKEN_HASH, (const unsigned char *)secret, strlen(secret), salt,
                       XS_TOKEN_SALT);
}

xs_result xs_token_new(int64_t id, char text[XS_TOKEN_TEXT], uint8_t salt[XS_TOKEN_SALT],
                       uint8_t hash[XS_TOKEN_HASH], xs_err *err)
{
    unsigned char raw[SECRET_BYTES];
    char secret[64];
    randombytes_buf(raw, sizeof raw);
    randombytes_buf(salt, XS_TOKEN_SALT);
    sodium_bin2base64(secret, sizeof secret, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    secret_hash(secret, salt, hash);
    int n = snprintf(text, XS_TOKEN_TEXT, "xs1_%" PRId64 "_%s", id, secret);
    sodium_memzero(secret, sizeof secret);
    if (n < 0 || n >= XS_TOKEN_TEXT)
        return xs_err_set(err, XS_ERR_INTERNAL, "token: id %" PRId64 " too long", id);
    return XS_OK;
}

bool xs_token_parse(const char *text, int64_t *id, const char **secret)
{
    if (!text || strncmp(text, "xs1_", 4) != 0)
        return false;
    const char *p = text + 4;
    int64_t v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (digits == 0 && *p == '0')
            return false; /* no leading zeros: one text per id */
        if (++digits > 15)
            return false;
        v = v * 10 + (*p++ - '0');
    }
    if (digits == 0 || *p != '_')
        return false;
    const char *s = ++p;
    size_t n = 0;
    for (; s[n]; ++n) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    if (n != 43) /* 32 bytes in base64url without padding */
        return false;
    *id = v;
    *secret = s;
    return true;
}

bool xs_token_check(const char *secret, const uint8_t salt[XS_TOKEN_SALT],
                    const uint8_t hash[XS_TOKEN_HASH])
{
    uint8_t h[XS_TOKEN_HASH];
    secret_hash(secret, salt, h);
    return sodium_memcmp(h, hash, XS_TOKEN_HASH) == 0;
}
