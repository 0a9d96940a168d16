/* The protocol test vectors, embedded as a NUL-terminated string (path from the build). */
    .section .rodata.vectors_txt, "a"
    .global vectors_txt
vectors_txt:
    .incbin VECTORS_FILE
    .byte 0
