/* tankd: the Tank daemon. */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "daemon/daemon.h"

int
main(int argc, char **argv)
{
  /* tankd hashes image names only: OpenSSL's config (engines, providers,
   * policies) would map ~2 MiB of libcrypto for nothing. */
  OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
  struct tankd d = { 0 };
  tank_error *err = NULL;
  int r = tankd_config_load(argc, argv, &d.cfg, &err);
  if (r == 1)
    return 0;
  if (r < 0) {
    fprintf(stderr, "tankd: %s\n", err->msg);
    tank_error_free(err);
    tankd_config_clear(&d.cfg);
    return 2;
  }
  if (tankd_start(&d, &err) < 0) {
    fprintf(stderr, "tankd: %s\n", err->msg);
    tank_error_free(err);
    tankd_stop(&d);
    tankd_config_clear(&d.cfg);
    return 1;
  }
  r = sd_event_loop(d.event);
  tankd_stop(&d);
  tankd_config_clear(&d.cfg);
  return r < 0 ? 1 : 0;
}
