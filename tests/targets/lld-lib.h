/* The library of the lld target: code in both of its executable segments. */
#ifndef CPROF_LLD_LIB_H
#define CPROF_LLD_LIB_H

/* In the first executable segment (.text): sleeps for ever. */
void lib_near_outer(void);
/* In the second executable segment (.text.far, after .bss): blocks for
 * ever in read(2) on fd. */
void lib_far_outer(int fd);
/* In the second executable segment: counted busy work for ever. */
void lib_far_spin(void);

#endif
