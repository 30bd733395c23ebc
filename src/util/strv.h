/* NULL-terminated string vectors (char **), the shape argv and envp have. */
#pragma once

#include <stddef.h>

size_t strv_length(char *const *v);
/* Appends s (taking ownership) to *v; returns -ENOMEM (freeing s) on failure. */
int strv_push(char ***v, char *s);
char **strv_copy(char *const *v);
char **strv_free(char **v);
/* Frees n strings and the array (arrays counted by a size, not NULL-terminated). */
void strv_free_n(char **v, size_t n);
/* A copy of n strings (NULL when n is 0); aborts on allocation failure. */
char **strv_copy_n(char *const *v, size_t n, size_t *ret_n);
void strv_freep(char ***v);
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))
