/* The verbs of the tank CLI: each takes argv starting at the verb's name and
 * returns the process exit code (0 ok, 1 error, 2 usage). */
#pragma once

int verb_image(int argc, char **argv);
int verb_validate(int argc, char **argv);
int verb_apply(int argc, char **argv);
int verb_get(int argc, char **argv);
int verb_inspect(int argc, char **argv);
int verb_delete(int argc, char **argv);
int verb_restart(int argc, char **argv);
int verb_events(int argc, char **argv);
int verb_logs(int argc, char **argv);
int verb_stats(int argc, char **argv);
int verb_version(int argc, char **argv);
int verb_exec(int argc, char **argv);
int verb_attach(int argc, char **argv);
