// C11 <threads.h> (thrd_*, mtx_*, cnd_*, call_once) over pthreads, for the ThreadSanitizer build
// only (TLSGATE_TSAN): Debian's librdkafka runs its threads and locks through glibc's C11
// functions, which call glibc's pthread internals directly, so gcc 12's libtsan never registers
// those threads (it crashes in its allocator) nor sees those locks (false races). These
// definitions, linked into every executable that loads librdkafka, interpose glibc's for
// librdkafka.so and go through TSan's pthread interceptors. Called on any thread; errors are C11
// codes mapped from errno as glibc does.
#include <pthread.h>
#include <threads.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <new>

namespace {

static_assert(sizeof(thrd_t) == sizeof(pthread_t));
static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t) &&
              alignof(mtx_t) >= alignof(pthread_mutex_t));
static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t) && alignof(cnd_t) >= alignof(pthread_cond_t));
static_assert(sizeof(once_flag) == sizeof(pthread_once_t) &&
              alignof(once_flag) >= alignof(pthread_once_t));

/// glibc's thrd_err_map: the same C11 result for the same pthread error.
int c11Result(int error) {
    switch (error) {
        case 0:
            return thrd_success;
        case ENOMEM:
            return thrd_nomem;
        case ETIMEDOUT:
            return thrd_timedout;
        case EBUSY:
            return thrd_busy;
        default:
            return thrd_error;
    }
}

// glibc lays mtx_t, cnd_t and once_flag out as the pthread objects they wrap and casts the same
// way.
pthread_mutex_t* native(mtx_t* mutex) {
    return reinterpret_cast<pthread_mutex_t*>(mutex);
}
pthread_cond_t* native(cnd_t* cond) {
    return reinterpret_cast<pthread_cond_t*>(cond);
}
pthread_once_t* native(once_flag* flag) {
    return reinterpret_cast<pthread_once_t*>(flag);
}

void* resultAsPointer(int result) {
    return reinterpret_cast<void*>(static_cast<std::intptr_t>(result));
}

/// What thrd_create hands to the new thread: a C11 start routine returns int, not void*.
struct C11Start {
    thrd_start_t func;
    void* arg;
};

void* runC11Start(void* raw) {
    const C11Start start = *static_cast<C11Start*>(raw);
    delete static_cast<C11Start*>(raw);
    return resultAsPointer(start.func(start.arg));
}

}  // namespace

extern "C" {

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
    auto* start = new (std::nothrow) C11Start{func, arg};
    if (start == nullptr) {
        return thrd_nomem;
    }
    const int error = pthread_create(thr, nullptr, runC11Start, start);
    if (error != 0) {
        delete start;
        return c11Result(error);
    }
    return thrd_success;
}

int thrd_join(thrd_t thr, int* res) {
    void* result = nullptr;
    const int error = pthread_join(thr, &result);
    if (error == 0 && res != nullptr) {
        *res = static_cast<int>(reinterpret_cast<std::intptr_t>(result));
    }
    return c11Result(error);
}

int thrd_detach(thrd_t thr) {
    return c11Result(pthread_detach(thr));
}

void thrd_exit(int res) {
    pthread_exit(resultAsPointer(res));
}

int mtx_init(mtx_t* mutex, int type) {
    int kind = 0;
    switch (type) {
        case mtx_plain:
        case mtx_timed:
            kind = PTHREAD_MUTEX_DEFAULT;
            break;
        case mtx_plain | mtx_recursive:
        case mtx_timed | mtx_recursive:
            kind = PTHREAD_MUTEX_RECURSIVE;
            break;
        default:
            return thrd_error;
    }
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, kind);
    const int error = pthread_mutex_init(native(mutex), &attr);
    pthread_mutexattr_destroy(&attr);
    return c11Result(error);
}

int mtx_lock(mtx_t* mutex) {
    return c11Result(pthread_mutex_lock(native(mutex)));
}

int mtx_timedlock(mtx_t* __restrict mutex, const struct timespec* __restrict time_point) {
    return c11Result(pthread_mutex_timedlock(native(mutex), time_point));
}

int mtx_trylock(mtx_t* mutex) {
    return c11Result(pthread_mutex_trylock(native(mutex)));
}

int mtx_unlock(mtx_t* mutex) {
    return c11Result(pthread_mutex_unlock(native(mutex)));
}

void mtx_destroy(mtx_t* mutex) {
    pthread_mutex_destroy(native(mutex));
}

void call_once(once_flag* flag, void (*func)(void)) {
    pthread_once(native(flag), func);
}

int cnd_init(cnd_t* cond) {
    return c11Result(pthread_cond_init(native(cond), nullptr));
}

int cnd_signal(cnd_t* cond) {
    return c11Result(pthread_cond_signal(native(cond)));
}

int cnd_broadcast(cnd_t* cond) {
    return c11Result(pthread_cond_broadcast(native(cond)));
}

int cnd_wait(cnd_t* cond, mtx_t* mutex) {
    return c11Result(pthread_cond_wait(native(cond), native(mutex)));
}

int cnd_timedwait(cnd_t* __restrict cond, mtx_t* __restrict mutex,
                  const struct timespec* __restrict time_point) {
    return c11Result(pthread_cond_timedwait(native(cond), native(mutex), time_point));
}

void cnd_destroy(cnd_t* cond) {
    pthread_cond_destroy(native(cond));
}

}  // extern "C"
