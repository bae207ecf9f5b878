/* llhttp's header callbacks (see llhttp_strict.c). */
#define LLHTTP_STRICT_MODE 1
#include <http.c>
