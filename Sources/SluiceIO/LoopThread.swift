import CSluice
import Glibc

/// A joinable OS thread. Event loops own theirs for their whole life, so a plain pthread is the
/// honest tool: Dispatch would add its own queue hop between the kernel and our loop.
public final class LoopThread: @unchecked Sendable {
    private var handle: pthread_t = pthread_t()

    private final class Start {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts a thread running `body`. Fails only when the system is out of threads.
    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(IOError) {
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        let rc = pthread_create(&handle, nil, { argument in
            guard let argument else { return nil }
            let start = Unmanaged<Start>.fromOpaque(argument).takeRetainedValue()
            csluice_set_thread_name(start.name)
            start.body()
            return nil
        }, start)
        if rc != 0 {
            Unmanaged<Start>.fromOpaque(start).release()
            throw IOError(errno: rc, call: "pthread_create")
        }
    }

    /// Waits for the thread to finish.
    public func join() {
        _ = pthread_join(handle, nil)
    }

    /// Lets the thread release its resources on exit without being joined.
    public func detach() {
        _ = pthread_detach(handle)
    }

    /// Processors available to this process.
    public static var processorCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

/// Per-thread storage of one object reference (pthread keys: Swift has no `thread_local`).
final class ThreadSpecific<Value: AnyObject>: @unchecked Sendable {
    private var key = pthread_key_t()

    init() {
        pthread_key_create(&key, nil)
    }

    var value: Value? {
        get {
            guard let raw = pthread_getspecific(key) else { return nil }
            return Unmanaged<Value>.fromOpaque(raw).takeUnretainedValue()
        }
        set {
            // Unretained: the owner (an event loop) outlives its thread's use of the slot.
            pthread_setspecific(key, newValue.map { Unmanaged.passUnretained($0).toOpaque() })
        }
    }
}
