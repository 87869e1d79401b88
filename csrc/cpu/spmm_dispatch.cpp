// Sparse @ dense family: picks the per-ISA kernel.
#include "fastnn/isa_dispatch.h"
#include "fastnn/spmm.h"

namespace fastnn {

#define FASTNN_DEFINE(T, sfx)                                                         \
  int64_t spmm(Isa isa, const SpmmArgs<T>& a) { FASTNN_DISPATCH(spmm_##sfx, a) }      \
  int64_t sddmm(Isa isa, const SddmmArgs<T>& a) { FASTNN_DISPATCH(sddmm_##sfx, a) }
FASTNN_DEFINE(float, f32)
FASTNN_DEFINE(double, f64)
#undef FASTNN_DEFINE

}  // namespace fastnn
