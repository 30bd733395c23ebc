/* Registry credentials from a docker/podman-style auth.json:
 *   {"auths": {"host:port[/repo]": {"auth": base64("user:pass")} | {"username","password"}}}
 * named by --authfile, else $REGISTRY_AUTH_FILE, else /etc/tank/auth.json. */
#pragma once

#include "util/error.h"

#define AUTH_DEFAULT_FILE "/etc/tank/auth.json"

struct registry_credentials {
  char *username;
  char *password;
  char *source; /* the file they came from, for error messages */
};

/* The auth file in effect: explicit, env, or the default. Never NULL. */
const char *auth_file_path(const char *explicit_path);

/* Finds credentials for domain/repo, the most specific entry winning. A missing
 * explicit file is an error; a missing env/default file just means "none"
 * (ret zeroed). */
int auth_lookup(const char *explicit_path, const char *domain, const char *repo,
                struct registry_credentials *ret, tank_error **err);
void registry_credentials_clear(struct registry_credentials *c);

/* base64 of "user:pass", for an Authorization: Basic header. Caller frees. */
char *auth_basic_token(const struct registry_credentials *c);
