/* Must fail to link: the firmware forbids the heap (see FW_FORBIDDEN in CMakeLists.txt). */
#include <stdlib.h>

void *picod_heap_probe(size_t n);

void *picod_heap_probe(size_t n)
{
    return malloc(n);
}
