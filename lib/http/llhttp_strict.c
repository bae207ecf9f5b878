/* llhttp, the maintained successor of libhttp-parser, as Debian's
 * node-llhttp ships it: C sources generated from its llparse description
 * (configure finds them, LLHTTP_SRCDIR). The parser proper, built in strict
 * mode, which refuses what the lenient mode lets through and a next hop
 * might read otherwise: a chunk size line with anything but
 * HEXDIG [; ext] CRLF, a chunk not followed by CRLF. llhttp_api.c and
 * llhttp_http.c build the rest, each a translation unit of its own as
 * upstream compiles them. */
#define LLHTTP_STRICT_MODE 1
#include <llhttp.c>
