// OpenMP thread-count control shared by every kernel.
#pragma once
#include <cstdint>

namespace fastnn {

int get_num_threads();
void set_num_threads(int n);
// Threads worth using for `work` units (roughly flops); small problems run on the caller alone
// because waking a team costs more than they take.
int threads_for(double work);

}  // namespace fastnn
