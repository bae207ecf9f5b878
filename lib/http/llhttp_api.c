/* llhttp's API (see llhttp_strict.c). */
#define LLHTTP_STRICT_MODE 1
#include <api.c>
