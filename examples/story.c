/* The founding story in C: needs libpq.so.5, and pow/exp from a new libm. */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    double x = argc > 1 ? atof(argv[1]) : 2.0;
    printf("libpq %d, %f %f\n", PQlibVersion(), pow(x, 3.0), exp(x));
    return 0;
}
