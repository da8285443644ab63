/* workcal_cn.c - the built-in holiday calendar: etc/holidays-cn.txt, as
 * the bytes of the file and a NUL (workcal_cn_text in workcal.h).  The
 * assembler includes the file (the build runs at the repository's root;
 * the Makefile rebuilds this object when the file changes). */
#include "workcal/workcal.h"

__asm__(".section .rodata\n"
        ".global workcal_cn_text\n"
        ".type workcal_cn_text, @object\n"
        "workcal_cn_text:\n"
        ".incbin \"etc/holidays-cn.txt\"\n"
        ".byte 0\n"
        ".size workcal_cn_text, . - workcal_cn_text\n"
        ".previous\n");
