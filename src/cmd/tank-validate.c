/* tank validate: check pod specs without a daemon and print their canonical form. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/verbs.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/fileio.h"

static void
usage(FILE *f)
{
  fprintf(f,
          "Usage: tank validate [-f FILE|-]... [-o json|yaml] [FILE...]\n"
          "\n"
          "Check pod specs (Tank YAML/JSON or Kubernetes v1 Pod manifests) without a daemon.\n"
          "Prints `pod/NAME valid` for each pod, or every error as FILE:LINE:COL: field: reason\n"
          "on stderr. A YAML stream with several documents validates each.\n"
          "\n"
          "Options:\n"
          "  -f, --filename FILE  a spec file, `-` for standard input (repeatable)\n"
          "  -o, --output FORMAT  print the canonical form instead: json or yaml\n"
          "  -h, --help           show this help\n"
          "\n"
          "Exit status: 0 all valid, 1 some spec is invalid or unreadable, 2 usage error.\n");
}

enum output {
  OUTPUT_NAMES,
  OUTPUT_JSON,
  OUTPUT_YAML,
};

static int
validate_one(const char *path, enum output out, json_t ***docs, size_t *n_docs)
{
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  tank_error *err = NULL;
  const char *label = strcmp(path, "-") == 0 ? "<stdin>" : path;
  if (read_file_limited(path, SPEC_MAX_BYTES, &buf, &len, &err) < 0) {
    if (err->errnum == EFBIG)
      fprintf(stderr, "%s: larger than %d bytes, the limit for a spec file\n", label,
              SPEC_MAX_BYTES);
    else
      fprintf(stderr, "tank validate: %s\n", err->msg);
    tank_error_free(err);
    return 1;
  }
  size_t plen = strlen(path);
  enum spec_format fmt
      = plen > 5 && strcmp(path + plen - 5, ".json") == 0 ? SPEC_FORMAT_JSON : SPEC_FORMAT_AUTO;
  struct spec_file f;
  int r = spec_parse(buf, len, label, fmt, &f);
  for (size_t i = 0; i < f.n_errors; i++)
    fprintf(stderr, "%s\n", f.errors[i]);
  for (size_t i = 0; i < f.n_pods; i++) {
    if (f.pods[i] == NULL)
      continue;
    if (out == OUTPUT_NAMES) {
      printf("pod/%s valid\n", f.pods[i]->name);
      continue;
    }
    json_t **d = realloc(*docs, (*n_docs + 1) * sizeof *d);
    if (d == NULL)
      abort();
    *docs = d;
    d[(*n_docs)++] = spec_pod_to_json(f.pods[i]);
  }
  spec_file_free(&f);
  return r < 0 ? 1 : 0;
}

int
verb_validate(int argc, char **argv)
{
  static const struct option opts[] = {
    { "filename", required_argument, NULL, 'f' },
    { "output", required_argument, NULL, 'o' },
    { "help", no_argument, NULL, 'h' },
    { 0 },
  };
  enum output out = OUTPUT_NAMES;
  _cleanup_free_ const char **files = calloc((size_t)argc + 1, sizeof *files);
  size_t n_files = 0;
  int c;
  if (files == NULL)
    return 1;
  optind = 1;
  while ((c = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
    switch (c) {
      case 'f':
        files[n_files++] = optarg;
        break;
      case 'o':
        if (strcmp(optarg, "json") == 0) {
          out = OUTPUT_JSON;
        } else if (strcmp(optarg, "yaml") == 0) {
          out = OUTPUT_YAML;
        } else {
          fprintf(stderr, "tank validate: unknown output format `%s` (json or yaml)\n", optarg);
          return 2;
        }
        break;
      case 'h':
        usage(stdout);
        return 0;
      default:
        usage(stderr);
        return 2;
    }
  }
  for (; optind < argc; optind++)
    files[n_files++] = argv[optind];
  if (n_files == 0) {
    fprintf(stderr, "tank validate: no spec given (use -f FILE, or -f - for standard input)\n");
    return 2;
  }

  int status = 0;
  json_t **docs = NULL;
  size_t n_docs = 0;
  for (size_t i = 0; i < n_files; i++)
    status |= validate_one(files[i], out, &docs, &n_docs);
  if (out == OUTPUT_JSON) {
    for (size_t i = 0; i < n_docs; i++) {
      json_dumpf(docs[i], stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
      fputc('\n', stdout);
    }
  } else if (out == OUTPUT_YAML && n_docs) {
    if (spec_emit_yaml(stdout, docs, n_docs) < 0) {
      fprintf(stderr, "tank validate: cannot write YAML\n");
      status = 1;
    }
  }
  for (size_t i = 0; i < n_docs; i++)
    json_decref(docs[i]);
  free(docs);
  return status;
}
