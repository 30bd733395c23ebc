/* tank image pull|ls|inspect|rm|prune: the image cache from the command line,
 * working on the data dir directly (it is locked), with or without tankd. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd/verbs.h"
#include "image/image.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define DEFAULT_DATA_DIR "/var/lib/tank"

struct common {
  const char *root;
  const char *output;
};

static const char *
data_dir(const struct common *c)
{
  if (c->root)
    return c->root;
  const char *env = getenv("TANK_DATA_DIR");
  return env && *env ? env : DEFAULT_DATA_DIR;
}

static int
open_store(const struct common *c, struct image_store **ret)
{
  _cleanup_error_ tank_error *err = NULL;
  if (image_store_open(data_dir(c), ret, &err) < 0) {
    fprintf(stderr, "tank image: %s\n", err->msg);
    return -1;
  }
  return 0;
}

static void
human_bytes(uint64_t b, char *out, size_t size)
{
  const char *u[] = { "B", "kB", "MB", "GB", "TB" };
  double v = (double)b;
  int i = 0;
  while (v >= 1000 && i < 4) {
    v /= 1000;
    i++;
  }
  snprintf(out, size, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

/* Progress: a line per layer redrawn in place on a TTY, plain lines otherwise. */
struct progress_view {
  bool tty, quiet;
  size_t n;
  size_t drawn;
  char (*lines)[128];
  int *last_state;
};

static void
draw(struct progress_view *v)
{
  if (v->drawn)
    fprintf(stderr, "\033[%zuA", v->drawn);
  for (size_t i = 0; i < v->n; i++)
    fprintf(stderr, "\033[2K%s\n", v->lines[i]);
  v->drawn = v->n;
  fflush(stderr);
}

static void
on_progress(const struct image_progress *p, void *userdata)
{
  struct progress_view *v = userdata;
  if (v->quiet)
    return;
  if (p->stage == IMAGE_PROGRESS_RESOLVED) {
    v->n = p->n_layers;
    v->lines = calloc(v->n ? v->n : 1, sizeof *v->lines);
    v->last_state = calloc(v->n ? v->n : 1, sizeof *v->last_state);
    if (!v->lines || !v->last_state)
      v->n = 0;
    for (size_t i = 0; i < v->n; i++) {
      v->last_state[i] = -1;
      snprintf(v->lines[i], sizeof v->lines[i], "layer %zu/%zu: waiting", i + 1, v->n);
    }
    if (v->tty)
      draw(v);
    return;
  }
  if (p->stage == IMAGE_PROGRESS_DONE || p->layer_index >= v->n)
    return;
  size_t i = p->layer_index;
  const char *hex = p->digest ? p->digest + 7 : "?";
  char done[32], total[32];
  human_bytes(p->done_bytes, done, sizeof done);
  human_bytes(p->total_bytes, total, sizeof total);
  switch (p->stage) {
    case IMAGE_PROGRESS_DOWNLOADING: {
      int pct = p->total_bytes ? (int)(p->done_bytes * 100 / p->total_bytes) : 0;
      char bar[31];
      for (int k = 0; k < 30; k++)
        bar[k] = k < pct * 30 / 100 ? '=' : ' ';
      bar[30] = '\0';
      snprintf(v->lines[i], sizeof v->lines[i], "%.12s [%s] %s / %s", hex, bar, done, total);
      break;
    }
    case IMAGE_PROGRESS_CACHED:
      snprintf(v->lines[i], sizeof v->lines[i], "%.12s already present", hex);
      break;
    case IMAGE_PROGRESS_UNPACKING:
      snprintf(v->lines[i], sizeof v->lines[i], "%.12s unpacking (%s)", hex, total);
      break;
    case IMAGE_PROGRESS_LAYER_DONE:
      snprintf(v->lines[i], sizeof v->lines[i], "%.12s done (%s)", hex, total);
      break;
    default:
      return;
  }
  if (v->tty)
    draw(v);
  else if (v->last_state[i] != (int)p->stage) {
    v->last_state[i] = (int)p->stage;
    fprintf(stderr, "layer %zu/%zu %s\n", i + 1, v->n, v->lines[i]);
  }
}

static int
parse_common(int c, struct common *co)
{
  switch (c) {
    case 'r':
      co->root = optarg;
      return 1;
    case 'o':
      if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0) {
        fprintf(stderr, "tank image: -o takes json or table\n");
        return -1;
      }
      co->output = optarg;
      return 1;
  }
  return 0;
}

static int
image_pull_main(int argc, char **argv)
{
  static const struct option opts[] = {
    { "help", no_argument, NULL, 'h' },
    { "data-dir", required_argument, NULL, 'r' },
    { "root", required_argument, NULL, 'r' },
    { "authfile", required_argument, NULL, 'a' },
    { "insecure-registry", required_argument, NULL, 'i' },
    { "offline", no_argument, NULL, 'O' },
    { "quiet", no_argument, NULL, 'q' },
    { "platform", required_argument, NULL, 'p' },
    { "jobs", required_argument, NULL, 'j' },
    { NULL, 0, NULL, 0 },
  };
  struct common co = { 0 };
  struct image_pull_options po = { 0 };
  _cleanup_strv_free_ char **insecure = NULL;
  _cleanup_free_ char *platform = NULL;
  struct progress_view view = { .tty = isatty(STDERR_FILENO) };
  const char *off = getenv("TANK_OFFLINE");
  po.offline = off && strcmp(off, "1") == 0;
  const char *env_insecure = getenv("TANK_INSECURE_REGISTRIES");
  if (env_insecure && *env_insecure) {
    _cleanup_free_ char *copy = strdup(env_insecure);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
      strv_push(&insecure, strdup(t));
  }
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "hqr:j:", opts, NULL)) != -1) {
    int pc = parse_common(c, &co);
    if (pc < 0)
      return 2;
    if (pc > 0)
      continue;
    switch (c) {
      case 'h':
        printf("Usage: tank image pull [OPTIONS] REF\n\n"
               "Pull an image into the cache under the data dir and unpack its layers.\n"
               "REF: [docker://]NAME[:TAG][@DIGEST], oci:DIR[:TAG], oci-archive:FILE[:TAG],\n"
               "     docker-archive:FILE, rootfs:DIR\n\n"
               "  --authfile FILE            credentials (default $REGISTRY_AUTH_FILE,\n"
               "                             then /etc/tank/auth.json)\n"
               "  --insecure-registry HOST   allow plain HTTP (loopback always may);\n"
               "                             also $TANK_INSECURE_REGISTRIES (comma list)\n"
               "  --offline                  use only the cache (also TANK_OFFLINE=1)\n"
               "  --platform OS/ARCH[/VAR]   choose from a multi-arch index (default: host)\n"
               "  -j, --jobs N               parallel layer downloads (default 3)\n"
               "  -q, --quiet                print only the manifest digest\n"
               "  --data-dir DIR             the data dir holding the cache (alias --root;\n"
               "                             default $TANK_DATA_DIR or " DEFAULT_DATA_DIR ")\n");
        return 0;
      case 'a':
        po.authfile = optarg;
        break;
      case 'i':
        strv_push(&insecure, strdup(optarg));
        break;
      case 'O':
        po.offline = true;
        break;
      case 'q':
        view.quiet = true;
        break;
      case 'j':
        po.max_parallel = (unsigned)atoi(optarg);
        break;
      case 'p': {
        platform = strdup(optarg);
        char *save = NULL;
        po.os = strtok_r(platform, "/", &save);
        po.architecture = strtok_r(NULL, "/", &save);
        po.variant = strtok_r(NULL, "/", &save);
        if (!po.os || !po.architecture) {
          fprintf(stderr, "tank image pull: --platform takes OS/ARCH[/VARIANT]\n");
          return 2;
        }
        break;
      }
      default:
        return 2;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "tank image pull: need exactly one image reference (see --help)\n");
    return 2;
  }
  po.insecure_registries = insecure;
  po.progress = on_progress;
  po.progress_userdata = &view;
  _cleanup_image_store_ struct image_store *s = NULL;
  if (open_store(&co, &s) < 0)
    return 1;
  _cleanup_error_ tank_error *err = NULL;
  _cleanup_image_ struct image *img = NULL;
  int r = image_pull(s, argv[optind], &po, &img, &err);
  free(view.lines);
  free(view.last_state);
  if (r < 0) {
    fprintf(stderr, "tank image pull: %s\n", err->msg);
    return 1;
  }
  if (view.quiet)
    printf("%s\n", img->record.manifest_digest ? img->record.manifest_digest : img->record.name);
  else
    printf("pulled %s %s\n", img->record.name,
           img->record.manifest_digest ? img->record.manifest_digest : "(rootfs)");
  return 0;
}

static int
cmp_records(const void *a, const void *b)
{
  return strcmp(((const struct image_record *)a)->name, ((const struct image_record *)b)->name);
}

static void
split_name(const char *name, char *repo, size_t rsize, char *tag, size_t tsize)
{
  snprintf(repo, rsize, "%s", name);
  char *at = strchr(repo, '@');
  if (at)
    *at = '\0';
  char *slash = strrchr(repo, '/');
  char *colon = strrchr(slash ? slash : repo, ':');
  if (colon && strncmp(repo, "rootfs:", 7) != 0 && strncmp(repo, "oci", 3) != 0) {
    snprintf(tag, tsize, "%s", colon + 1);
    *colon = '\0';
  } else
    snprintf(tag, tsize, "<none>");
}

static int
image_ls_main(int argc, char **argv)
{
  static const struct option opts[] = {
    { "help", no_argument, NULL, 'h' },
    { "data-dir", required_argument, NULL, 'r' },
    { "root", required_argument, NULL, 'r' },
    { "output", required_argument, NULL, 'o' },
    { NULL, 0, NULL, 0 },
  };
  struct common co = { 0 };
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "ho:r:", opts, NULL)) != -1) {
    int pc = parse_common(c, &co);
    if (pc < 0)
      return 2;
    if (pc > 0)
      continue;
    if (c == 'h') {
      printf("Usage: tank image ls [-o json] [--data-dir DIR]\n\nList the images in the cache.\n");
      return 0;
    }
    return 2;
  }
  if (optind != argc) {
    fprintf(stderr, "tank image ls: unexpected argument `%s`\n", argv[optind]);
    return 2;
  }
  _cleanup_image_store_ struct image_store *s = NULL;
  if (open_store(&co, &s) < 0)
    return 1;
  _cleanup_error_ tank_error *err = NULL;
  struct image_record *v;
  size_t n;
  if (image_list(s, &v, &n, &err) < 0) {
    fprintf(stderr, "tank image ls: %s\n", err->msg);
    return 1;
  }
  if (n > 0)
    qsort(v, n, sizeof *v, cmp_records);
  bool json = co.output && strcmp(co.output, "json") == 0;
  json_t *arr = json_array();
  if (!json)
    printf("%-40s %-12s %-19s %-10s %s\n", "REPOSITORY", "TAG", "DIGEST", "SIZE", "CREATED");
  for (size_t i = 0; i < n; i++) {
    char repo[512], tag[256], size[32];
    split_name(v[i].name, repo, sizeof repo, tag, sizeof tag);
    human_bytes((uint64_t)v[i].size, size, sizeof size);
    const char *d = v[i].manifest_digest ? v[i].manifest_digest : "";
    if (json)
      json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s?, s:I, s:s?, s:I}", "name",
                                           v[i].name, "repository", repo, "tag", tag, "digest",
                                           v[i].manifest_digest, "size", (json_int_t)v[i].size,
                                           "created", v[i].created, "pulled",
                                           (json_int_t)v[i].pulled_at));
    else
      printf("%-40s %-12s %-19.19s %-10s %s\n", repo, tag, *d ? d : "-", size,
             v[i].created ? v[i].created : "-");
  }
  if (json) {
    char *s2 = json_dumps(arr, JSON_INDENT(2));
    printf("%s\n", s2);
    free(s2);
  }
  json_decref(arr);
  image_records_free(v, n);
  return 0;
}

static json_t *
strv_json(char **v)
{
  if (v == NULL)
    return json_null();
  json_t *a = json_array();
  for (size_t i = 0; v[i]; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

static int
image_inspect_main(int argc, char **argv)
{
  static const struct option opts[] = {
    { "help", no_argument, NULL, 'h' },
    { "data-dir", required_argument, NULL, 'r' },
    { "root", required_argument, NULL, 'r' },
    { NULL, 0, NULL, 0 },
  };
  struct common co = { 0 };
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "hr:", opts, NULL)) != -1) {
    if (parse_common(c, &co) > 0)
      continue;
    if (c == 'h') {
      printf("Usage: tank image inspect REF [--data-dir DIR]\n\n"
             "Print an image's record, config and layer dirs as JSON.\n");
      return 0;
    }
    return 2;
  }
  if (optind != argc - 1) {
    fprintf(stderr, "tank image inspect: need exactly one image reference\n");
    return 2;
  }
  _cleanup_image_store_ struct image_store *s = NULL;
  if (open_store(&co, &s) < 0)
    return 1;
  _cleanup_error_ tank_error *err = NULL;
  _cleanup_image_ struct image *img = NULL;
  if (image_lookup(s, argv[optind], &img, &err) < 0) {
    fprintf(stderr, "tank image inspect: %s\n", err->msg);
    return 1;
  }
  const struct image_record *r = &img->record;
  const struct image_config *cf = &img->config;
  json_t *layers = json_array();
  for (size_t i = 0; i < r->n_layers; i++)
    json_array_append_new(layers, json_pack("{s:s, s:s, s:s?, s:I}", "digest", r->layers[i].digest,
                                            "diff_id", r->layers[i].diff_id, "mediaType",
                                            r->layers[i].media_type, "size",
                                            (json_int_t)r->layers[i].size));
  json_t *labels = json_object();
  for (size_t i = 0; cf->label_keys && cf->label_keys[i]; i++)
    json_object_set_new(labels, cf->label_keys[i], json_string(cf->label_values[i]));
  json_t *config = json_pack(
      "{s:o, s:o, s:o, s:s?, s:s?, s:s?, s:o, s:o, s:o}", "Entrypoint", strv_json(cf->entrypoint),
      "Cmd", strv_json(cf->cmd), "Env", strv_json(cf->env), "WorkingDir", cf->working_dir, "User",
      cf->user, "StopSignal", cf->stop_signal, "ExposedPorts", strv_json(cf->exposed_ports),
      "Volumes", strv_json(cf->volumes), "Labels", labels);
  json_t *j = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:I, s:o, s:o, s:o, s:s?}", "name",
                        r->name, "digest", r->manifest_digest, "config_digest", r->config_digest,
                        "created", r->created, "architecture", cf->architecture, "os", cf->os,
                        "size", (json_int_t)r->size, "config", config, "layers", layers,
                        "lower_dirs", strv_json(img->lower_dirs), "rootfs", r->rootfs_path);
  char *out = json_dumps(j, JSON_INDENT(2));
  printf("%s\n", out);
  free(out);
  json_decref(j);
  return 0;
}

static int
image_rm_prune_main(int argc, char **argv, bool prune)
{
  static const struct option opts[] = {
    { "help", no_argument, NULL, 'h' },
    { "data-dir", required_argument, NULL, 'r' },
    { "root", required_argument, NULL, 'r' },
    { NULL, 0, NULL, 0 },
  };
  struct common co = { 0 };
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "hr:", opts, NULL)) != -1) {
    if (parse_common(c, &co) > 0)
      continue;
    if (c == 'h') {
      if (prune)
        printf("Usage: tank image prune [--data-dir DIR]\n\n"
               "Remove blobs, layers and temporary files no image references.\n");
      else
        printf("Usage: tank image rm REF... [--data-dir DIR]\n\n"
               "Remove images and whatever of theirs no other image uses.\n");
      return 0;
    }
    return 2;
  }
  if (prune ? optind != argc : optind >= argc) {
    fprintf(stderr, prune ? "tank image prune: takes no arguments\n"
                          : "tank image rm: need at least one image reference\n");
    return 2;
  }
  _cleanup_image_store_ struct image_store *s = NULL;
  if (open_store(&co, &s) < 0)
    return 1;
  uint64_t total = 0;
  int rc = 0;
  if (prune) {
    _cleanup_error_ tank_error *err = NULL;
    if (image_prune(s, &total, &err) < 0) {
      fprintf(stderr, "tank image prune: %s\n", err->msg);
      return 1;
    }
  }
  for (int i = optind; !prune && i < argc; i++) {
    _cleanup_error_ tank_error *err = NULL;
    uint64_t b = 0;
    if (image_remove(s, argv[i], &b, &err) < 0) {
      fprintf(stderr, "tank image rm: %s\n", err->msg);
      rc = 1;
      continue;
    }
    printf("removed %s\n", argv[i]);
    total += b;
  }
  char h[32];
  human_bytes(total, h, sizeof h);
  printf("reclaimed %s (%llu bytes)\n", h, (unsigned long long)total);
  return rc;
}

int
verb_image(int argc, char **argv)
{
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    FILE *f = argc < 2 ? stderr : stdout;
    fprintf(f, "Usage: tank image COMMAND [ARGS...]\n\n"
               "  pull REF       pull and unpack an image into the cache\n"
               "  ls             list cached images (-o json)\n"
               "  inspect REF    show an image's config and layers\n"
               "  rm REF...      remove images\n"
               "  prune          remove unreferenced blobs and layers\n");
    return argc < 2 ? 2 : 0;
  }
  const char *sub = argv[1];
  if (strcmp(sub, "pull") == 0)
    return image_pull_main(argc - 1, argv + 1);
  if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0)
    return image_ls_main(argc - 1, argv + 1);
  if (strcmp(sub, "inspect") == 0)
    return image_inspect_main(argc - 1, argv + 1);
  if (strcmp(sub, "rm") == 0)
    return image_rm_prune_main(argc - 1, argv + 1, false);
  if (strcmp(sub, "prune") == 0)
    return image_rm_prune_main(argc - 1, argv + 1, true);
  fprintf(stderr, "tank image: unknown command `%s` (see `tank image --help`)\n", sub);
  return 2;
}
