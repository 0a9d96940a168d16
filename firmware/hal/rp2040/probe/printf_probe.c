/* Must fail to link: printf-family code pulls in the allocator and ~20 KiB of formatting. */
#include <stdio.h>

int picod_printf_probe(int v);

int picod_printf_probe(int v)
{
    return printf("%d\n", v);
}
