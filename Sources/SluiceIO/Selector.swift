import CSluice
import Glibc

/// What a registered descriptor wants to hear about.
public struct Interest: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let readable = Interest(rawValue: CSLUICE_EPOLLIN | CSLUICE_EPOLLRDHUP)
    public static let writable = Interest(rawValue: CSLUICE_EPOLLOUT)
}

/// One readiness report: which descriptor (by the tag given at registration) and what happened.
public struct ReadyEvent: Sendable {
    public var tag: UInt64
    public var mask: UInt32

    public init(tag: UInt64, mask: UInt32) {
        self.tag = tag
        self.mask = mask
    }

    public var isReadable: Bool { mask & (CSLUICE_EPOLLIN | CSLUICE_EPOLLRDHUP | CSLUICE_EPOLLHUP | CSLUICE_EPOLLERR) != 0 }
    public var isWritable: Bool { mask & (CSLUICE_EPOLLOUT | CSLUICE_EPOLLHUP | CSLUICE_EPOLLERR) != 0 }
    public var isHangup: Bool { mask & (CSLUICE_EPOLLHUP | CSLUICE_EPOLLERR) != 0 }

    public static let readable = CSLUICE_EPOLLIN
    public static let writable = CSLUICE_EPOLLOUT
    public static let hangup = CSLUICE_EPOLLHUP
}

/// The seam between an event loop and the kernel. `EpollSelector` is the real one; tests can
/// put a scripted selector behind a loop to replay exact event sequences (stale tags, hangups).
public protocol Selector: AnyObject, Sendable {
    func register(fd: Int32, interest: Interest, tag: UInt64) throws(IOError)
    func reregister(fd: Int32, interest: Interest, tag: UInt64) throws(IOError)
    func deregister(fd: Int32) throws(IOError)
    /// Blocks up to `timeoutMilliseconds` (-1: forever) and fills `events`; returns the count.
    func wait(into events: UnsafeMutableBufferPointer<ReadyEvent>, timeoutMilliseconds: Int32) throws(IOError) -> Int
    /// Makes a blocked or the next `wait` return promptly. Callable from any thread.
    func wakeup()
    func close()
}

/// The tag the selector reports when `wakeup()` fired; never produced for a registered fd.
public let wakeupTag: UInt64 = .max

/// epoll, level-triggered, with an eventfd for cross-thread wake-ups.
public final class EpollSelector: Selector, @unchecked Sendable {
    private let epfd: Int32
    private let eventfd: Int32
    // Unpacked copies of the kernel's events; the C shim converts from packed epoll_event.
    private let raw: UnsafeMutablePointer<csluice_event>
    private let rawCapacity = 256

    public init() throws(IOError) {
        epfd = csluice_epoll_create()
        try Syscall.check(epfd, "epoll_create1")
        eventfd = csluice_eventfd()
        if eventfd < 0 {
            let error = IOError(errno: Glibc.errno, call: "eventfd")
            Syscall.close(epfd)
            throw error
        }
        raw = .allocate(capacity: rawCapacity)
        if csluice_epoll_ctl(epfd, CSLUICE_EPOLL_CTL_ADD, eventfd, CSLUICE_EPOLLIN, wakeupTag) < 0 {
            let error = IOError(errno: Glibc.errno, call: "epoll_ctl(eventfd)")
            Syscall.close(eventfd)
            Syscall.close(epfd)
            raw.deallocate()
            throw error
        }
    }

    deinit {
        raw.deallocate()
    }

    public func register(fd: Int32, interest: Interest, tag: UInt64) throws(IOError) {
        try Syscall.check(csluice_epoll_ctl(epfd, CSLUICE_EPOLL_CTL_ADD, fd, interest.rawValue, tag), "epoll_ctl(ADD)")
    }

    public func reregister(fd: Int32, interest: Interest, tag: UInt64) throws(IOError) {
        try Syscall.check(csluice_epoll_ctl(epfd, CSLUICE_EPOLL_CTL_MOD, fd, interest.rawValue, tag), "epoll_ctl(MOD)")
    }

    public func deregister(fd: Int32) throws(IOError) {
        try Syscall.check(csluice_epoll_ctl(epfd, CSLUICE_EPOLL_CTL_DEL, fd, 0, 0), "epoll_ctl(DEL)")
    }

    public func wait(into events: UnsafeMutableBufferPointer<ReadyEvent>, timeoutMilliseconds: Int32) throws(IOError) -> Int {
        let capacity = Int32(min(events.count, rawCapacity))
        var n: Int32
        repeat {
            n = csluice_epoll_wait(epfd, raw, capacity, timeoutMilliseconds)
        } while n < 0 && Glibc.errno == EINTR
        try Syscall.check(n, "epoll_wait")
        var count = 0
        for index in 0..<Int(n) {
            let event = raw[index]
            if event.tag == wakeupTag {
                _ = csluice_eventfd_drain(eventfd)
            }
            events[count] = ReadyEvent(tag: event.tag, mask: event.events)
            count += 1
        }
        return count
    }

    public func wakeup() {
        _ = csluice_eventfd_signal(eventfd)
    }

    public func close() {
        Syscall.close(eventfd)
        Syscall.close(epfd)
    }
}
