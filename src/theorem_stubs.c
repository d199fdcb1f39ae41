/* theorem_stubs.c — temporary: checks not written yet (removed as each lands). */
#include "theorem_impl.h"
#define STUB(fn) minima_status fn(minima_theorem_env *env, const minima_theorem_params *p, \
    minima_theorem_result *out) { (void)env; (void)p; \
    minima_thm_not_applicable(out, "not implemented yet"); return MINIMA_OK; }
STUB(minima_thm_check_thm2)
STUB(minima_thm_check_appd)
