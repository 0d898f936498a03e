//! A deterministic executor for the CMAP format's operations around the real
//! [`PoolMachine`]: virtual milliseconds, named threads as queues of operations (a thread
//! blocked in `checkOut` runs nothing else until its check-out ends), and a fake connection
//! factory whose establishments end after the fail point's blockTimeMS (0 without one).
//!
//! Time only moves when the main thread waits (`wait`, `waitForEvent`, `waitForThread`, a
//! blocking `checkOut`): it jumps to the next establishment end or pool deadline (a wait
//! queue timeout, or the pool's next background run per its schedule), where the pool is
//! ticked. Everything
//! that happens at one instant is given to the pool before its actions are drained, as
//! simultaneous inputs. An establishment failure is handled the way SDAM handles an error
//! before the handshake completes: the pool is cleared (if the connection's generation is
//! current), then the failure is reported.

use std::collections::{BTreeMap, HashMap, VecDeque};

use mongo_topology_core::cmap::{
    BackgroundRuns, CheckOutError, CmapEvent, ConnectionId, GivenPoolOptions, PoolAction,
    PoolMachine, WaiterId,
};
use mongo_topology_core::{MonotonicTime, ServerAddress};
use serde_json::{json, Value};

/// How long the main thread waits for a condition without a `timeout` of its own.
const DEFAULT_WAIT_MS: u64 = 10_000;

/// The name of the main thread.
const MAIN: &str = "";

/// The `failCommand` fail point on `hello`, as the fake factory plays it.
pub struct FailPoint {
    /// How many more establishments it affects; `None` is `alwaysOn`.
    remaining: Option<u64>,
    /// `data.appName`: only connections with this appName are affected.
    app_name: Option<String>,
    block_ms: u64,
    fails: bool,
}

impl FailPoint {
    /// The fail point a `configureFailPoint` command sets; `None` for mode `off`.
    pub fn from_command(command: &Value) -> Result<Option<FailPoint>, String> {
        let remaining = match command.get("mode") {
            Some(Value::String(mode)) if mode == "off" => return Ok(None),
            Some(Value::String(mode)) if mode == "alwaysOn" => None,
            Some(mode) => Some(
                mode.get("times")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| format!("fail point mode {mode}"))?,
            ),
            None => return Err("fail point without mode".into()),
        };
        let data = command.get("data").ok_or("fail point without data")?;
        let commands = data.get("failCommands").and_then(Value::as_array);
        if !commands.is_some_and(|names| names.iter().any(|name| name == "hello")) {
            return Err(format!("fail point on commands other than hello: {data}"));
        }
        let blocks = data.get("blockConnection").and_then(Value::as_bool) == Some(true);
        Ok(Some(FailPoint {
            remaining,
            app_name: data
                .get("appName")
                .and_then(Value::as_str)
                .map(str::to_string),
            block_ms: if blocks {
                data.get("blockTimeMS").and_then(Value::as_u64).unwrap_or(0)
            } else {
                0
            },
            fails: data.get("errorCode").is_some()
                || data.get("closeConnection").and_then(Value::as_bool) == Some(true),
        }))
    }

    /// Whether the fail point affects the connections of a pool whose connections give
    /// `app_name` in their handshake.
    pub fn applies_to_app(&self, app_name: Option<&str>) -> bool {
        self.app_name
            .as_deref()
            .is_none_or(|wanted| Some(wanted) == app_name)
    }

    /// The delay and success of the next establishment's handshake.
    fn next_handshake(&mut self) -> (u64, bool) {
        match &mut self.remaining {
            Some(0) => return (0, true),
            Some(remaining) => *remaining -= 1,
            None => {}
        }
        (self.block_ms, !self.fails)
    }
}

#[derive(Default)]
struct Thread {
    queue: VecDeque<Value>,
    /// The check-out this thread is blocked in, and the label for its connection.
    blocked_on: Option<(WaiterId, Option<String>)>,
    error: Option<Value>,
}

impl Thread {
    fn is_idle(&self) -> bool {
        self.blocked_on.is_none() && self.queue.is_empty()
    }
}

struct Establishment {
    ends_at: u64,
    connection: ConnectionId,
    generation: u32,
    succeeds: bool,
}

pub struct World {
    pool: PoolMachine,
    now_ms: u64,
    events: Vec<CmapEvent>,
    fail_point: Option<FailPoint>,
    establishing: Vec<Establishment>,
    threads: BTreeMap<String, Thread>,
    waiters: HashMap<WaiterId, String>,
    labels: HashMap<String, ConnectionId>,
}

impl World {
    pub fn new(
        options: GivenPoolOptions,
        background_runs: BackgroundRuns,
        fail_point: Option<FailPoint>,
    ) -> Result<World, String> {
        let address = ServerAddress::parse("localhost:27017").map_err(|e| e.to_string())?;
        let mut pool = PoolMachine::new(address, options.resolve()).map_err(|e| e.to_string())?;
        pool.set_background_runs(background_runs);
        let mut world = World {
            pool,
            now_ms: 0,
            events: Vec::new(),
            fail_point,
            establishing: Vec::new(),
            threads: BTreeMap::from([(MAIN.to_string(), Thread::default())]),
            waiters: HashMap::new(),
            labels: HashMap::new(),
        };
        world.drain()?;
        Ok(world)
    }

    pub fn events(&self) -> &[CmapEvent] {
        &self.events
    }

    pub fn main_error(&self) -> Option<&Value> {
        self.threads.get(MAIN).and_then(|main| main.error.as_ref())
    }

    fn now(&self) -> MonotonicTime {
        MonotonicTime::from_millis(self.now_ms)
    }

    /// One operation of the test, issued by the main thread.
    pub fn run_operation(&mut self, operation: &Value) -> Result<(), String> {
        let name = operation
            .get("name")
            .and_then(Value::as_str)
            .ok_or("operation without name")?;
        if let Some(thread) = operation.get("thread").and_then(Value::as_str) {
            self.threads
                .get_mut(thread)
                .ok_or_else(|| format!("thread {thread:?} was not started"))?
                .queue
                .push_back(operation.clone());
            return self.run_threads();
        }
        let number = |field: &str| operation.get(field).and_then(Value::as_u64);
        let text = |field: &str| {
            operation
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("{name} without {field}"))
        };
        match name {
            "start" => {
                self.threads.insert(text("target")?, Thread::default());
                Ok(())
            }
            "wait" => {
                let until = self.now_ms + number("ms").ok_or("wait without ms")?;
                self.advance_until(until, |world| world.now_ms >= until)
            }
            "waitForEvent" => {
                let event = text("event")?;
                let count = number("count").ok_or("waitForEvent without count")? as usize;
                let limit = self.now_ms + number("timeout").unwrap_or(DEFAULT_WAIT_MS);
                self.advance_until(limit, |world| {
                    world
                        .events
                        .iter()
                        .filter(|e| e.kind.name() == event)
                        .count()
                        >= count
                })
                .map_err(|why| format!("waiting for {count} {event}: {why}"))
            }
            "waitForThread" => {
                let target = text("target")?;
                let limit = self.now_ms + DEFAULT_WAIT_MS;
                self.advance_until(limit, |world| {
                    world.threads.get(&target).is_none_or(Thread::is_idle)
                })
                .map_err(|why| format!("waiting for thread {target}: {why}"))?;
                let error = self.threads.get_mut(&target).and_then(|t| t.error.take());
                if let (Some(error), Some(main)) = (error, self.threads.get_mut(MAIN)) {
                    main.error = Some(error);
                }
                Ok(())
            }
            _ => {
                if let Some(main) = self.threads.get_mut(MAIN) {
                    main.queue.push_back(operation.clone());
                }
                self.run_threads()?;
                let limit = self.now_ms + DEFAULT_WAIT_MS;
                self.advance_until(limit, |world| {
                    world.threads.get(MAIN).is_none_or(Thread::is_idle)
                })
            }
        }
    }

    /// Runs the threads' queued operations until every thread is blocked or idle.
    fn run_threads(&mut self) -> Result<(), String> {
        loop {
            let runnable = self.threads.iter_mut().find_map(|(name, thread)| {
                if thread.blocked_on.is_some() || thread.error.is_some() {
                    return None;
                }
                thread.queue.pop_front().map(|op| (name.clone(), op))
            });
            let Some((thread, operation)) = runnable else {
                return Ok(());
            };
            self.pool_operation(&thread, &operation)?;
            self.drain()?;
        }
    }

    /// An operation on the pool by `thread`.
    fn pool_operation(&mut self, thread: &str, operation: &Value) -> Result<(), String> {
        let now = self.now();
        let name = operation
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match name {
            "checkOut" => {
                let waiter = self.pool.check_out(now);
                let label = operation
                    .get("label")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                self.waiters.insert(waiter, thread.to_string());
                if let Some(state) = self.threads.get_mut(thread) {
                    state.blocked_on = Some((waiter, label));
                }
                Ok(())
            }
            "checkIn" => {
                let label = operation
                    .get("connection")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let connection = *self
                    .labels
                    .get(label)
                    .ok_or_else(|| format!("no connection {label:?}"))?;
                self.pool
                    .check_in(connection, true, now)
                    .map_err(|e| e.to_string())
            }
            "clear" => {
                let interrupt = operation
                    .get("interruptInUseConnections")
                    .and_then(Value::as_bool);
                self.pool.clear(interrupt.unwrap_or(false), now);
                Ok(())
            }
            "close" => {
                self.pool.close(now);
                Ok(())
            }
            "ready" => {
                self.pool.ready(now);
                Ok(())
            }
            other => Err(format!("unknown operation {other:?}")),
        }
    }

    /// Carries out the pool's actions: events recorded, establishments scheduled, check-outs
    /// ended (the thread resumes).
    fn drain(&mut self) -> Result<(), String> {
        while let Some(action) = self.pool.poll_action() {
            match action {
                PoolAction::Emit(event) => self.events.push(event),
                PoolAction::Establish {
                    connection,
                    generation,
                } => {
                    let (delay, succeeds) = match &mut self.fail_point {
                        Some(fail_point) => fail_point.next_handshake(),
                        None => (0, true),
                    };
                    self.establishing.push(Establishment {
                        ends_at: self.now_ms + delay,
                        connection,
                        generation,
                        succeeds,
                    });
                }
                PoolAction::HandOut {
                    waiter, connection, ..
                } => {
                    let label = self.end_check_out(waiter)?;
                    if let Some(label) = label {
                        self.labels.insert(label, connection);
                    }
                }
                PoolAction::FailCheckOut { waiter, error } => {
                    let type_name = match error {
                        CheckOutError::PoolClosed => "PoolClosedError",
                        CheckOutError::PoolCleared => "PoolClearedError",
                        CheckOutError::Timeout => "WaitQueueTimeoutError",
                        CheckOutError::ConnectionError => "ConnectionError",
                    };
                    let thread = self.waiters.get(&waiter).cloned().unwrap_or_default();
                    self.end_check_out(waiter)?;
                    if let Some(thread) = self.threads.get_mut(&thread) {
                        thread.error =
                            Some(json!({ "type": type_name, "message": error.to_string() }));
                    }
                }
                PoolAction::CloseConnection(_) | PoolAction::Interrupt(_) => {}
            }
        }
        Ok(())
    }

    /// Unblocks the thread of check-out `waiter`; returns its label.
    fn end_check_out(&mut self, waiter: WaiterId) -> Result<Option<String>, String> {
        let thread = self.waiters.remove(&waiter).ok_or("unknown waiter")?;
        let state = self.threads.get_mut(&thread).ok_or("unknown thread")?;
        Ok(state.blocked_on.take().and_then(|(_, label)| label))
    }

    /// Lets time pass, at most until `limit_ms`, until `done` holds.
    fn advance_until(
        &mut self,
        limit_ms: u64,
        done: impl Fn(&World) -> bool,
    ) -> Result<(), String> {
        loop {
            self.run_threads()?;
            if done(self) {
                return Ok(());
            }
            let next_end = self.establishing.iter().map(|e| e.ends_at).min();
            let next_deadline = self
                .pool
                .next_deadline()
                .map(|t| t.offset().as_millis() as u64);
            let next = [next_end, next_deadline, Some(limit_ms)]
                .into_iter()
                .flatten()
                .min();
            let next = next.unwrap_or(limit_ms).max(self.now_ms);
            if self.now_ms >= limit_ms && next >= limit_ms {
                return Err(format!("still not done at {limit_ms} ms"));
            }
            self.now_ms = next;
            self.step()?;
        }
    }

    /// Everything due now, as simultaneous inputs, then the pool's actions.
    fn step(&mut self) -> Result<(), String> {
        let now = self.now();
        let (due, later): (Vec<Establishment>, Vec<Establishment>) = self
            .establishing
            .drain(..)
            .partition(|e| e.ends_at <= self.now_ms);
        self.establishing = later;
        for establishment in due {
            let connection = establishment.connection;
            let outcome = if establishment.succeeds {
                self.pool.connection_established(connection, now)
            } else {
                if establishment.generation == self.pool.generation() {
                    self.pool.clear(false, now);
                }
                self.pool.connection_failed(connection, now)
            };
            outcome.map_err(|e| e.to_string())?;
        }
        if self
            .pool
            .next_deadline()
            .is_some_and(|deadline| deadline <= now)
        {
            self.pool.tick(now);
        }
        self.drain()
    }
}
