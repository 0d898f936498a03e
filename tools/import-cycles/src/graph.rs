//! Strongly connected components and one concrete loop through a component.

use std::collections::{BTreeSet, VecDeque};

/// The strongly connected components of a directed graph given by its successor lists
/// (Tarjan's algorithm with an explicit stack, so deep graphs cannot overflow).
pub(crate) fn strongly_connected(successors: &[Vec<usize>]) -> Vec<BTreeSet<usize>> {
    let count = successors.len();
    let mut index_of = vec![usize::MAX; count];
    let mut low = vec![0; count];
    let mut on_stack = vec![false; count];
    let mut stack = Vec::new();
    let mut next_index = 0;
    let mut components = Vec::new();
    for start in 0..count {
        if index_of[start] != usize::MAX {
            continue;
        }
        // (node, position of the next successor to look at)
        let mut work = vec![(start, 0)];
        index_of[start] = next_index;
        low[start] = next_index;
        next_index += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (node, ref mut position)) = work.last_mut() {
            if let Some(&next) = successors[node].get(*position) {
                *position += 1;
                if index_of[next] == usize::MAX {
                    index_of[next] = next_index;
                    low[next] = next_index;
                    next_index += 1;
                    stack.push(next);
                    on_stack[next] = true;
                    work.push((next, 0));
                } else if on_stack[next] {
                    low[node] = low[node].min(index_of[next]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == index_of[node] {
                let mut component = BTreeSet::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component.insert(member);
                    if member == node {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

/// A shortest loop from `start` back to itself inside `component` (breadth-first), as the
/// list of nodes visited, `start` first and last.
pub(crate) fn shortest_loop(
    successors: &[Vec<usize>],
    component: &BTreeSet<usize>,
    start: usize,
) -> Vec<usize> {
    let mut came_from = vec![usize::MAX; successors.len()];
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &next in &successors[node] {
            if !component.contains(&next) {
                continue;
            }
            if next == start {
                let mut path = vec![start, node];
                let mut current = node;
                while current != start {
                    current = came_from[current];
                    path.push(current);
                }
                path.reverse();
                return path;
            }
            if came_from[next] == usize::MAX && next != start {
                came_from[next] = node;
                queue.push_back(next);
            }
        }
    }
    vec![start]
}
