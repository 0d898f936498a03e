//! [`ServerList`]: a list of server references that lives on the stack.
//!
//! Selection must not allocate on its hot path. A replica set has at most 50 members, so
//! up to [`INLINE_CAPACITY`] references are kept in a fixed array; only a topology with more
//! servers than that (e.g. a very long list of mongos routers) spills to the heap.

use crate::sdam::ServerDescription;

/// How many suitable servers selection holds on the stack; only a topology with more
/// candidates than this (never a replica set, which has at most 50 members) allocates.
pub const INLINE_CAPACITY: usize = 64;

/// An ordered list of servers, inline up to [`INLINE_CAPACITY`] entries.
#[derive(Clone, Debug)]
pub(crate) struct ServerList<'a> {
    /// Entries `..len` are `Some`, the rest `None` (unused while `spilled` is empty).
    inline: [Option<&'a ServerDescription>; INLINE_CAPACITY],
    len: usize,
    /// Every entry, once the list has outgrown `inline`.
    spilled: Vec<Option<&'a ServerDescription>>,
}

impl<'a> ServerList<'a> {
    /// An empty list.
    pub(crate) fn new() -> Self {
        ServerList {
            inline: [None; INLINE_CAPACITY],
            len: 0,
            spilled: Vec::new(),
        }
    }

    /// Appends `server`.
    pub(crate) fn push(&mut self, server: &'a ServerDescription) {
        if self.spilled.is_empty() {
            if let Some(slot) = self.inline.get_mut(self.len) {
                *slot = Some(server);
                self.len += 1;
                return;
            }
            self.spilled.extend_from_slice(&self.inline);
        }
        self.spilled.push(Some(server));
    }

    fn slots(&self) -> &[Option<&'a ServerDescription>] {
        if self.spilled.is_empty() {
            self.inline.get(..self.len).unwrap_or_default()
        } else {
            &self.spilled
        }
    }

    fn slots_mut(&mut self) -> &mut [Option<&'a ServerDescription>] {
        if self.spilled.is_empty() {
            self.inline.get_mut(..self.len).unwrap_or_default()
        } else {
            &mut self.spilled
        }
    }

    /// Removes every server.
    pub(crate) fn clear(&mut self) {
        self.truncate(0);
    }

    /// The number of servers.
    pub(crate) fn len(&self) -> usize {
        self.slots().len()
    }

    /// The server at `index`, if any.
    pub(crate) fn get(&self, index: usize) -> Option<&'a ServerDescription> {
        self.slots().get(index).copied().flatten()
    }

    /// The servers in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a ServerDescription> + Clone + '_ {
        self.slots().iter().filter_map(|slot| *slot)
    }

    /// Moves the servers for which `keep` is true to the front, keeping their order, and
    /// returns how many there are. The others follow, in no particular order.
    pub(crate) fn partition(&mut self, mut keep: impl FnMut(&ServerDescription) -> bool) -> usize {
        let slots = self.slots_mut();
        let mut kept = 0;
        for index in 0..slots.len() {
            if slots.get(index).copied().flatten().is_some_and(&mut keep) {
                slots.swap(kept, index);
                kept += 1;
            }
        }
        kept
    }

    /// Keeps only the servers for which `keep` is true, in order.
    pub(crate) fn retain(&mut self, keep: impl FnMut(&ServerDescription) -> bool) {
        let kept = self.partition(keep);
        self.truncate(kept);
    }

    fn truncate(&mut self, len: usize) {
        if self.spilled.is_empty() {
            for slot in self.inline.iter_mut().skip(len) {
                *slot = None;
            }
            self.len = self.len.min(len);
        } else {
            self.spilled.truncate(len);
            if self.spilled.is_empty() {
                // Back to the inline storage, emptied.
                self.inline = [None; INLINE_CAPACITY];
                self.len = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::ServerAddress;

    fn servers(n: usize) -> Vec<ServerDescription> {
        (0..n)
            .map(|i| ServerDescription::unknown(ServerAddress::tcp(format!("h{i}"), 27017)))
            .collect()
    }

    fn ports_of(list: &ServerList<'_>) -> Vec<String> {
        list.iter().map(|s| s.address.to_string()).collect()
    }

    #[test]
    fn spills_past_the_inline_capacity_and_keeps_order() {
        let all = servers(INLINE_CAPACITY + 3);
        let mut list = ServerList::new();
        for server in &all {
            list.push(server);
        }
        assert_eq!(list.len(), INLINE_CAPACITY + 3);
        assert_eq!(list.get(INLINE_CAPACITY + 2), all.last());
        let expected: Vec<String> = all.iter().map(|s| s.address.to_string()).collect();
        assert_eq!(ports_of(&list), expected);
    }

    #[test]
    fn emptied_lists_are_empty_whether_inline_or_spilled() {
        for n in [5, INLINE_CAPACITY + 5] {
            let all = servers(n);
            let mut list = ServerList::new();
            for server in &all {
                list.push(server);
            }
            list.retain(|_| false);
            assert_eq!(list.len(), 0);
            assert_eq!(list.iter().count(), 0);
            for server in &all {
                list.push(server);
            }
            assert_eq!(list.len(), n);
            list.clear();
            assert_eq!(list.iter().count(), 0);
            list.push(&all[0]);
            assert_eq!(ports_of(&list), vec![all[0].address.to_string()]);
        }
    }

    #[test]
    fn retain_keeps_order_inline_and_spilled() {
        for n in [5, INLINE_CAPACITY + 5] {
            let all = servers(n);
            let mut list = ServerList::new();
            for server in &all {
                list.push(server);
            }
            let odd = |s: &ServerDescription| {
                matches!(&s.address, ServerAddress::Tcp { host, .. }
                    if host[1..].parse::<usize>().unwrap() % 2 == 1)
            };
            list.retain(odd);
            let expected: Vec<String> = all
                .iter()
                .filter(|s| odd(s))
                .map(|s| s.address.to_string())
                .collect();
            assert_eq!(ports_of(&list), expected);
            assert_eq!(list.get(list.len()), None);
        }
    }
}
