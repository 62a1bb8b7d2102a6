// MPI's world as the process group of a launch by mpirun, with a communication thread for the
// gradient all-reduces (mpi_group.h, process_group.h).
#include "kernels/cpu/mpi_group.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "kernels/cpu/process_group.h"
#include "rill_config.h"
#include "runtime/launch.h"

#if defined(__linux__)
#include <sys/prctl.h>
#endif

#if RILL_HAVE_MPI
// The C API only: Open MPI's C++ bindings do not compile cleanly with -Wextra.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace rill {

#if RILL_HAVE_MPI
namespace {

absl::Status MpiError(int code, const char* call) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return absl::UnavailableError(absl::StrCat(call, " failed: ", std::string(text, length),
                                             " (another rank has probably died; see its output)"));
}

// How long a rank waits for the others in one collective before it gives up:
// RILL_COLLECTIVE_TIMEOUT seconds (fractions allowed), 600 by default.
std::chrono::duration<double> CollectiveTimeout() {
  const char* value = std::getenv("RILL_COLLECTIVE_TIMEOUT");
  const double seconds = value == nullptr ? 0 : std::strtod(value, nullptr);
  // At most about 115 days: a wait is given in nanoseconds of 64 bits, which overflow (and
  // would give up at once) past 292 years; NaN and non-positive values take the default.
  return std::chrono::duration<double>(seconds > 0 ? std::min(seconds, 1e7) : 600);
}

std::string Stalled(const char* what, int rank) {
  return absl::StrCat(what, ": rank ", rank, " waited ", CollectiveTimeout().count(),
                      " s for the other ranks (RILL_COLLECTIVE_TIMEOUT); a rank has died or "
                      "stalled");
}

// The MPI library this build links, as MPI_Get_library_version names it (its first line).
std::string MpiLibraryName() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string name(text, static_cast<size_t>(length));
  return name.substr(0, std::min(name.find_first_of(",\n"), name.size()));
}

// Between two polls of a collective in flight.
constexpr std::chrono::microseconds kPollPause(20);

// One gradient bucket in flight: every rank's bytes, gathered on the communication thread,
// which then writes their rank-ordered sum over `data`.
struct Reduction {
  void* data = nullptr;
  DType dtype = DType::kF32;
  int64_t bytes = 0;
  std::vector<std::byte> gathered;
  bool done = false;
  absl::Status status;
};

class MpiGroup final : public ProcessGroup {
 public:
  static absl::StatusOr<MpiGroup*> Create() {
    int provided = 0;
    int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
    if (code != MPI_SUCCESS) return MpiError(code, "MPI_Init_thread");
    if (provided < MPI_THREAD_MULTIPLE) {
      return absl::FailedPreconditionError(
          "data parallelism: this MPI library lacks MPI_THREAD_MULTIPLE, which the gradient "
          "all-reduce's communication thread needs");
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    // A launcher of another MPI library (MPICH's mpiexec for an Open MPI build, say) starts
    // processes that each find a world of one: every one would train alone and write.
    if (const int launched = LaunchedProcessCount(); launched > 1 && size != launched) {
      const std::string library = MpiLibraryName();
      MPI_Finalize();
      return absl::FailedPreconditionError(absl::StrCat(
          "data parallelism: the launcher started ", launched, " processes, but MPI's world has ",
          size, "; launch with the mpirun of the MPI library rill was built with (", library, ")"));
    }
    auto* group = new MpiGroup();
    group->rank_ = rank;
    group->size_ = size;
    // The communication thread's collectives run on a communicator of their own, so they
    // never interleave with the main thread's (losses, broadcasts).
    MPI_Comm_dup(MPI_COMM_WORLD, &group->gradient_comm_);
    MPI_Comm_set_errhandler(group->gradient_comm_, MPI_ERRORS_RETURN);
    group->share_ = 1.0 / group->size_;
    group->thread_ = std::thread([group] { group->CommunicationLoop(); });
    std::atexit([] { Shutdown(); });
    instance_ = group;
    return group;
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* transport() const override { return "MPI"; }
  void set_failed() override { Abandon(absl::OkStatus()).IgnoreError(); }

  absl::Status StartAllReduce(const TensorView& buffer) override {
    if (pending_.count(buffer.data) != 0) {
      return absl::InternalError("all_reduce: an all-reduce is already in flight on this buffer");
    }
    // A bucket's reduction (and its gathered bytes, size × the bucket) is kept from one step to
    // the next: allocating and zeroing it per step would cost more than the exchange on a
    // fast network.
    std::shared_ptr<Reduction>& r = reductions_[buffer.data];
    if (r == nullptr) r = std::make_shared<Reduction>();
    r->data = buffer.data;
    r->dtype = buffer.dtype;
    r->bytes = buffer.bytes();
    const size_t gathered = static_cast<size_t>(buffer.bytes()) * size_;
    if (r->gathered.size() < gathered) r->gathered.resize(gathered);
    pending_[buffer.data] = r;
    {
      std::lock_guard<std::mutex> lock(mutex_);  // done and status are the thread's
      r->done = abandoned_;
      r->status = absl::OkStatus();
      if (abandoned_) {  // the thread has ended: this exchange fails as the earlier one did
        r->status = absl::UnavailableError(
            "gradient all-reduce: an earlier exchange failed (another rank has probably died; "
            "see its output)");
      } else {
        queue_.push_back(r);
      }
    }
    wake_.notify_all();
    return absl::OkStatus();
  }

  absl::Status FinishAllReduce(const TensorView& in, const TensorView& out) override {
    auto it = pending_.find(in.data);
    if (it == pending_.end()) {
      return absl::InternalError("all_reduce_wait: no all-reduce in flight on this buffer");
    }
    std::shared_ptr<Reduction> r = it->second;
    pending_.erase(it);
    const auto wait_start = std::chrono::steady_clock::now();
    {
      std::unique_lock<std::mutex> lock(mutex_);
      waiting_.fetch_add(1, std::memory_order_relaxed);
      const bool done = done_.wait_for(lock, CollectiveTimeout(), [&] { return r->done; });
      waiting_.fetch_sub(1, std::memory_order_relaxed);
      if (!done) {
        lock.unlock();
        return Abandon(absl::DeadlineExceededError(Stalled("gradient all-reduce", rank_)));
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.wait_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
      ++stats_.reductions;
      stats_.bytes += r->bytes;
    }
    if (!r->status.ok()) return Abandon(r->status);
    CopyIfApart(in, out);
    return absl::OkStatus();
  }

  Stats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  absl::StatusOr<std::vector<double>> AllGather(const std::vector<double>& local) override {
    std::vector<double> all(local.size() * size_);
    MPI_Request request;
    int code = MPI_Iallgather(local.data(), static_cast<int>(local.size()), MPI_DOUBLE, all.data(),
                              static_cast<int>(local.size()), MPI_DOUBLE, MPI_COMM_WORLD, &request);
    if (code != MPI_SUCCESS) return Abandon(MpiError(code, "MPI_Iallgather"));
    RILL_RETURN_IF_ERROR(Wait(&request, "loss and metric exchange (MPI_Iallgather)"));
    return all;
  }

  absl::Status Broadcast(const TensorView& t) override {
    MPI_Request request;
    int code =
        MPI_Ibcast(t.data, static_cast<int>(t.bytes()), MPI_BYTE, 0, MPI_COMM_WORLD, &request);
    if (code != MPI_SUCCESS) return Abandon(MpiError(code, "MPI_Ibcast"));
    return Wait(&request, "broadcast from rank 0 (MPI_Ibcast)");
  }

 private:
  MpiGroup() = default;

  // Waits for the main thread's collective `request` no longer than CollectiveTimeout(), as the
  // gradient all-reduce does: a rank that stalls there must not hang the others forever.
  absl::Status Wait(MPI_Request* request, const char* what) {
    const auto deadline = std::chrono::steady_clock::now() + CollectiveTimeout();
    for (;;) {
      int finished = 0;
      const int code = MPI_Test(request, &finished, MPI_STATUS_IGNORE);
      if (code != MPI_SUCCESS) return Abandon(MpiError(code, what));
      if (finished) return absl::OkStatus();
      if (std::chrono::steady_clock::now() > deadline) {
        return Abandon(absl::DeadlineExceededError(Stalled(what, rank_)));
      }
      std::this_thread::sleep_for(kPollPause);
    }
  }

  // Ends the communication thread for good and marks this rank failed, before `error` goes
  // up to code that may free the buckets: the thread starts no further exchange and touches
  // no bucket again (one in flight is left unfinished; the job then ends with MPI_Abort at
  // exit). Returns `error`.
  absl::Status Abandon(absl::Status error) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      abandoned_ = true;
      failed_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    return error;
  }

  void CommunicationLoop() {
#if defined(__linux__)
    // A sleep lasts its time plus the thread's timer slack, 50 µs by default: each kPollPause
    // would last about 80 µs here, and a finished exchange be seen (and the next one started)
    // that much later. With a slack of 1 µs the pause lasts about 30 µs.
    prctl(PR_SET_TIMERSLACK, 1000UL);
#endif
    for (;;) {
      std::shared_ptr<Reduction> r;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || abandoned_ || !queue_.empty(); });
        if (abandoned_ || queue_.empty()) return;
        r = queue_.front();
        queue_.pop_front();
      }
      // Gathering every rank's bytes and summing them in rank order gives the same bits on
      // every rank whatever algorithm MPI picks for the exchange. The sum runs here too, off
      // the backward's thread.
      const auto start = std::chrono::steady_clock::now();
      // Polled with pauses while the backward runs, rather than blocking: MPI's blocking calls
      // spin while they wait for the other ranks, which would take a core from the backward
      // this thread overlaps. Once the backward waits for an exchange, without pauses but
      // yielding: where ranks share cores, the rank still computing is what this one waits for.
      MPI_Request request;
      int code = MPI_Iallgather(r->data, static_cast<int>(r->bytes), MPI_BYTE, r->gathered.data(),
                                static_cast<int>(r->bytes), MPI_BYTE, gradient_comm_, &request);
      for (int finished = 0; code == MPI_SUCCESS && !finished;) {
        if (abandoned_.load(std::memory_order_relaxed)) return;
        code = MPI_Test(&request, &finished, MPI_STATUS_IGNORE);
        if (finished) break;
        if (waiting_.load(std::memory_order_relaxed) == 0) {
          std::this_thread::sleep_for(kPollPause);
        } else {
          std::this_thread::yield();
        }
      }
      if (code == MPI_SUCCESS) {
        if (r->dtype == DType::kF64)
          SumInRankOrder(*r, static_cast<double*>(r->data));
        else
          SumInRankOrder(*r, static_cast<float*>(r->data));
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.exchange_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        r->done = true;
        if (code != MPI_SUCCESS) {
          // The other reductions would fail as this one did (a rank is gone); they end with its
          // error, and this thread stops before the backward's error frees their buckets.
          r->status = MpiError(code, "MPI_Iallgather (gradients)");
          for (const std::shared_ptr<Reduction>& queued : queue_) {
            queued->status = r->status;
            queued->done = true;
          }
          queue_.clear();
          abandoned_ = true;
        }
      }
      done_.notify_all();
      if (code != MPI_SUCCESS) return;
    }
  }

  template <typename T>
  void SumInRankOrder(const Reduction& r, T* out) const {
    const int64_t n = r.bytes / static_cast<int64_t>(sizeof(T));
    const T* parts = reinterpret_cast<const T*>(r.gathered.data());
    for (int64_t i = 0; i < n; ++i) {
      T acc = parts[i];
      for (int k = 1; k < size_; ++k) acc += parts[k * n + i];
      out[i] = acc;
    }
  }

  // At exit: a clean finish, or — after a failed collective, or with one still in flight —
  // MPI_Abort, which ends the other ranks too instead of leaving them waiting.
  static void Shutdown() {
    MpiGroup* g = instance_;
    if (g == nullptr) return;
    bool busy;
    {
      std::lock_guard<std::mutex> lock(g->mutex_);
      g->stop_ = true;
      busy = !g->queue_.empty() || !g->pending_.empty() || g->abandoned_;
    }
    g->wake_.notify_all();
    if (g->failed_ || busy) {
      std::fflush(nullptr);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (g->thread_.joinable()) g->thread_.join();
    MPI_Comm_free(&g->gradient_comm_);
    MPI_Finalize();
  }

  static inline MpiGroup* instance_ = nullptr;
  int rank_ = 0;
  int size_ = 1;
  MPI_Comm gradient_comm_ = MPI_COMM_NULL;
  std::thread thread_;
  mutable std::mutex mutex_;
  Stats stats_;
  std::condition_variable wake_, done_;
  std::deque<std::shared_ptr<Reduction>> queue_;
  bool stop_ = false;
  // The communication thread has ended or is to end at once (Abandon); set under mutex_, read
  // without it by the thread's polls.
  std::atomic<bool> abandoned_{false};
  std::atomic<int> waiting_{0};  // FinishAllReduce calls blocked now
  // Main thread only: the reductions started and not yet finished, by buffer.
  std::map<const void*, std::shared_ptr<Reduction>> pending_;
  std::map<const void*, std::shared_ptr<Reduction>> reductions_;  // by bucket, kept
};

absl::StatusOr<ProcessGroup*> CreateMpiWorld() {
  RILL_ASSIGN_OR_RETURN(MpiGroup * group, MpiGroup::Create());
  return group;
}

}  // namespace

void RegisterMpiProcessGroup() { SetProcessGroupFactory(&CreateMpiWorld); }
#else
void RegisterMpiProcessGroup() {}
#endif  // RILL_HAVE_MPI

}  // namespace rill
