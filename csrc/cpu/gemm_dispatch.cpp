#include "fastnn/gemm.h"
#include "fastnn/isa_dispatch.h"
#include "fastnn/threading.h"

namespace fastnn {

void gemm(Isa isa, const GemmArgs<float>& args) {
  FASTNN_DISPATCH(gemm_f32, args)
}

void gemm(Isa isa, const GemmArgs<double>& args) {
  FASTNN_DISPATCH(gemm_f64, args)
}

template <typename T>
static void gemm_batched_impl(Isa isa, const BatchedGemmArgs<T>& args) {
  auto one = [&](int64_t i) {
    GemmArgs<T> g = args.gemm;
    g.a += i * args.stride_a;
    g.b += i * args.stride_b;
    g.c += i * args.stride_c;
    gemm(isa, g);
  };
  const GemmArgs<T>& g = args.gemm;
  const double work = 2.0 * g.m * g.n * g.k;
  // Small GEMMs (attention heads, say) get one thread each; large ones parallelise inside. Either way
  // one thread computes each element with the same blocking, so results do not depend on the split.
  // A zero batch stride for C would make threads race on one output, so that case stays serial.
  const int nthreads = threads_for(work * args.batch);
  if (args.batch > 1 && work < 4.0e6 && nthreads > 1 && args.stride_c != 0) {
    // Inside a chunk threads_for is 1, so each GEMM runs on the thread that grabbed it.
    parallel_chunks(args.batch, nthreads, one);
  } else {
    for (int64_t i = 0; i < args.batch; ++i) one(i);
  }
}

void gemm_batched(Isa isa, const BatchedGemmArgs<float>& args) { gemm_batched_impl(isa, args); }
void gemm_batched(Isa isa, const BatchedGemmArgs<double>& args) { gemm_batched_impl(isa, args); }

}  // namespace fastnn
