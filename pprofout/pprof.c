/* placeholder */ typedef int cprof_placeholder_t;
