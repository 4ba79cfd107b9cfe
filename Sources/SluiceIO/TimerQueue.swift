/// Identifies a scheduled timer so it can be cancelled.
public struct TimerID: Hashable, Sendable {
    let value: UInt64
}

/// A binary min-heap of deadlines owned by one event loop (not thread-safe).
///
/// Hot paths avoid it on purpose: a connection keeps one armed timer and moves a plain
/// `deadline` field per request; when the timer fires early it re-arms for the new deadline.
/// So the heap sees a handful of operations per timeout period, not one per request.
struct TimerQueue {
    private struct Entry {
        let deadline: UInt64
        let id: UInt64
    }

    private var heap: [Entry] = []
    /// The actions of live timers. A cancelled timer loses its action at once (and with it
    /// whatever the closure holds); its heap entry is skipped when it reaches the top.
    private var actions: [UInt64: () -> Void] = [:]
    private var nextID: UInt64 = 0

    var isEmpty: Bool { actions.isEmpty }

    mutating func schedule(at deadline: UInt64, _ action: @escaping () -> Void) -> TimerID {
        nextID &+= 1
        heap.append(Entry(deadline: deadline, id: nextID))
        actions[nextID] = action
        siftUp(heap.count - 1)
        return TimerID(value: nextID)
    }

    mutating func cancel(_ timer: TimerID) {
        actions[timer.value] = nil
    }

    /// The earliest live deadline, if any.
    mutating func nextDeadline() -> UInt64? {
        dropCancelledTop()
        return heap.first?.deadline
    }

    /// Removes and returns the actions due at or before `now`, earliest first.
    mutating func popExpired(now: UInt64, into due: inout [() -> Void]) {
        while true {
            dropCancelledTop()
            guard let top = heap.first, top.deadline <= now else { return }
            if let action = actions.removeValue(forKey: top.id) { due.append(action) }
            removeTop()
        }
    }

    private mutating func dropCancelledTop() {
        while let top = heap.first, actions[top.id] == nil {
            removeTop()
        }
        // A heap mostly made of cancelled entries is rebuilt, so it cannot grow without bound.
        if heap.count > 1024 && heap.count > actions.count * 4 {
            heap.removeAll { actions[$0.id] == nil }
            for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
        }
    }

    private mutating func removeTop() {
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
    }

    private func precedes(_ a: Int, _ b: Int) -> Bool {
        heap[a].deadline < heap[b].deadline || (heap[a].deadline == heap[b].deadline && heap[a].id < heap[b].id)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(child, parent) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            if left + 1 < heap.count, precedes(left + 1, left) { smallest = left + 1 }
            guard precedes(smallest, parent) else { return }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
    }
}
