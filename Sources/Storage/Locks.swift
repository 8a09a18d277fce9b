#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A plain mutual-exclusion lock over `pthread_mutex_t`.
final class PthreadMutex: @unchecked Sendable {
    private let raw: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        raw = .allocate(capacity: 1)
        raw.initialize(to: pthread_mutex_t())
        pthread_mutex_init(raw, nil)
    }

    deinit {
        pthread_mutex_destroy(raw)
        raw.deinitialize(count: 1)
        raw.deallocate()
    }

    func lock() { pthread_mutex_lock(raw) }
    func unlock() { pthread_mutex_unlock(raw) }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A readers/writer lock: every transaction of an environment holds it shared, map resizing holds it exclusively.
///
/// On glibc it prefers writers, so a pending resize is not starved by a steady stream of overlapping readers; new
/// transactions wait while a resize is pending. It is not recursive: a thread that holds it shared must not take it
/// again (the environment's per-thread scope flag guarantees that).
final class ReadersWriterLock: @unchecked Sendable {
    private let raw: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        raw = .allocate(capacity: 1)
        raw.initialize(to: pthread_rwlock_t())
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        #if canImport(Glibc)
            pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        #endif
        pthread_rwlock_init(raw, &attributes)
        pthread_rwlockattr_destroy(&attributes)
    }

    deinit {
        pthread_rwlock_destroy(raw)
        raw.deinitialize(count: 1)
        raw.deallocate()
    }

    func lockShared() { pthread_rwlock_rdlock(raw) }
    func lockExclusive() { pthread_rwlock_wrlock(raw) }
    func unlock() { pthread_rwlock_unlock(raw) }
}

/// A per-thread flag, one per environment, marking that the current thread is inside a transaction scope.
///
/// Backed by a `pthread_key_t` whose value is a non-nil sentinel pointer while the flag is set; no allocation.
final class ThreadFlag: @unchecked Sendable {
    private var key = pthread_key_t()

    init() {
        pthread_key_create(&key, nil)
    }

    deinit {
        pthread_key_delete(key)
    }

    var isSet: Bool {
        pthread_getspecific(key) != nil
    }

    func set() { pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1)) }
    func clear() { pthread_setspecific(key, nil) }
}
