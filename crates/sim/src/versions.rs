//! Emulated server versions: wire versions, buildInfo version, and the behaviours that
//! changed between releases.
//!
//! Each series is emulated as its last patch release (see [`ServerVersion::full_version`]),
//! so backports made in a series' patch releases count.
//!
//! | Series | maxWireVersion | `hello` command | `helloOk` answered | topologyVersion, awaitable hello | connectionId | OP_QUERY commands | codeNames of 10107 / 13435 / 13436 | "not primary" texts | `RetryableWriteError` label | getnonce |
//! |---|---|---|---|---|---|---|---|---|---|---|
//! | 3.6 | 6  | yes (3.6.21+) | no  | no  | no  | all | NotMaster / NotMasterNoSlaveOk / NotMasterOrSecondary | never | no | yes |
//! | 4.0 | 7  | yes (4.0.21+) | no  | no  | no  | all | NotMaster / NotMasterNoSlaveOk / NotMasterOrSecondary | never | no | yes |
//! | 4.2 | 8  | yes (4.2.10+) | no  | no  | yes | all | NotMaster / NotMasterNoSlaveOk / NotMasterOrSecondary | never | no | yes |
//! | 4.4 | 9  | yes (4.4.2+)  | yes | yes | yes | all | NotWritablePrimary / NotPrimaryNoSecondaryOk / NotPrimaryOrSecondary | never | yes | yes |
//! | 5.0 | 13 | yes | yes | yes | yes | all | NotWritablePrimary / NotPrimaryNoSecondaryOk / NotPrimaryOrSecondary | after helloOk | yes | yes |
//! | 6.0 | 17 | yes | yes | yes | yes | handshake + few | NotWritablePrimary / NotPrimaryNoSecondaryOk / NotPrimaryOrSecondary | after helloOk | yes | no |
//! | 7.0 | 21 | yes | yes | yes | yes | handshake + few | NotWritablePrimary / NotPrimaryNoSecondaryOk / NotPrimaryOrSecondary | after helloOk | yes | no |
//! | 8.0 | 25 | yes | yes | yes | yes | handshake + few | NotWritablePrimary / NotPrimaryNoSecondaryOk / NotPrimaryOrSecondary | after helloOk | yes | no |
//!
//! minWireVersion is 0 for clients in every version. The columns, with their sources:
//!
//! - **hello**: new in 5.0 and backported to 4.4.2, 4.2.10, 4.0.21 and 3.6.21 (MongoDB
//!   manual, `hello` command page of v4.4). A `hello` request gets `isWritablePrimary` and
//!   `secondaryDelaySecs`, legacy `isMaster`/`ismaster` gets `ismaster` and `slaveDelay`
//!   (`useLegacyResponseFields`, src/mongo/db/repl/replication_info.cpp and
//!   hello_response.cpp, already so in the 4.0 backport).
//! - **helloOk**: a handshake carrying a `helloOk` field of any boolean value is answered
//!   with `helloOk: true`, first among mongod's fields, after the role fields on mongos
//!   (replication_info.cpp, src/mongo/s/commands/cluster_hello_cmd.cpp). The 4.0 backport
//!   of `hello` has no helloOk; it is emulated from 4.4 on.
//! - **OP_QUERY**: up to 5.0 any command may come as OP_QUERY; from 5.1 only `hello`,
//!   `isMaster`, `ismaster`, `_isSelf`, `authenticate`, `buildinfo`, `buildInfo`,
//!   `saslStart` and `saslContinue` (src/mongo/rpc/check_allowed_op_query_cmd.cpp); any other
//!   fails with 352 UnsupportedOpQueryCommand, "Unsupported OP_QUERY command: NAME. The
//!   client driver may require an upgrade. For more details see
//!   <https://dochub.mongodb.org/core/legacy-opcode-removal>" (MongoDB 6.0 compatibility notes,
//!   "legacy opcodes removed").
//! - **codeNames**: the server renamed 10107, 13435 and 13436 when it dropped master/slave
//!   terminology; 4.4 servers already answered `codeName: NotWritablePrimary` before 5.0 was
//!   released (published shell output, topologyVersion present, errmsg "not master"), and
//!   3.6–4.2 dispatch code raises ErrorCodes::NotMaster / NotMasterNoSlaveOk /
//!   NotMasterOrSecondary (src/mongo/db/service_entry_point_common.cpp).
//! - **"not primary" texts**: from 5.0 the errmsg of 10107 is "not primary" and of 13435
//!   "not primary and secondaryOk=false" when the connection's handshake carried
//!   `helloOk: true` (`Client::supportsHello`), "not master" / "not master and
//!   slaveOk=false" otherwise (service_entry_point_common.cpp). 13436 reads "node is
//!   recovering" or "node is not in primary or recovering state".
//! - **RetryableWriteError**: from 4.4 the server labels errors whose code is in the
//!   RetriableError category (10107, 13435, 13436, 91, 189, ...; src/mongo/base/
//!   error_codes.yml) when the command is a retryable write: it carries `txnNumber` and no
//!   `autocommit` (`ErrorLabelBuilder::isRetryableWriteError`, src/mongo/db/error_labels.cpp).
//!   Not-primary errors carry the node's `topologyVersion` from 4.4 on.
//! - **getnonce**: deprecated in 4.0 (manual, v4.2 `getnonce` page); its removal in 6.0 is
//!   kept from the original emulation but was not confirmed against a source.
//!
//! Hello fields common to all versions (hello_response.cpp, replication_info.cpp,
//! topology_coordinator.cpp): `maxBsonObjectSize` 16777216, `maxMessageSizeBytes` 48000000,
//! `maxWriteBatchSize` 100000, `localTime`, `logicalSessionTimeoutMinutes` 30, `readOnly`
//! (mongod only), `msg: "isdbgrid"` (mongos), `setVersion` as a 32-bit int, `lastWrite`
//! with `opTime`, `lastWriteDate`, `majorityOpTime`, `majorityWriteDate` (dates in whole
//! seconds), `electionId` on the primary only; hidden and delayed members are in no member
//! list, priority-0 members are `passives` and say `passive: true`; a member that never had
//! a config answers `isreplicaset: true` with an `info` message and no `setName`; a member
//! removed by a reconfig says the same but still names the set (`setName`), and up to 4.4
//! also lists the members of the config that removed it (`fillHelloForReplSet` in
//! topology_coordinator.cpp).

use std::fmt;
use std::str::FromStr;

/// A MongoDB release series the simulator can emulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServerVersion {
    /// MongoDB 3.6 (wire version 6).
    V3_6,
    /// MongoDB 4.0 (wire version 7).
    V4_0,
    /// MongoDB 4.2 (wire version 8).
    V4_2,
    /// MongoDB 4.4 (wire version 9).
    V4_4,
    /// MongoDB 5.0 (wire version 13).
    V5_0,
    /// MongoDB 6.0 (wire version 17).
    V6_0,
    /// MongoDB 7.0 (wire version 21).
    V7_0,
    /// MongoDB 8.0 (wire version 25).
    V8_0,
}

/// Every supported version, oldest first.
pub const ALL_VERSIONS: [ServerVersion; 8] = [
    ServerVersion::V3_6,
    ServerVersion::V4_0,
    ServerVersion::V4_2,
    ServerVersion::V4_4,
    ServerVersion::V5_0,
    ServerVersion::V6_0,
    ServerVersion::V7_0,
    ServerVersion::V8_0,
];

/// A version string that names no supported release.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported server version {0:?}: expected one of 3.6, 4.0, 4.2, 4.4, 5.0, 6.0, 7.0, 8.0")]
pub struct UnknownVersion(pub String);

impl FromStr for ServerVersion {
    type Err = UnknownVersion;

    /// Accepts "7.0", "7.0.12" or "7".
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.trim().split('.');
        let major = parts.next().unwrap_or_default();
        let minor = parts.next().unwrap_or("0");
        let found = ALL_VERSIONS
            .iter()
            .copied()
            .find(|v| v.series() == format!("{major}.{minor}"));
        found.ok_or_else(|| UnknownVersion(s.to_owned()))
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.series())
    }
}

impl ServerVersion {
    /// "major.minor".
    pub fn series(self) -> &'static str {
        match self {
            ServerVersion::V3_6 => "3.6",
            ServerVersion::V4_0 => "4.0",
            ServerVersion::V4_2 => "4.2",
            ServerVersion::V4_4 => "4.4",
            ServerVersion::V5_0 => "5.0",
            ServerVersion::V6_0 => "6.0",
            ServerVersion::V7_0 => "7.0",
            ServerVersion::V8_0 => "8.0",
        }
    }

    /// The full version reported by buildInfo (the last patch release of the series).
    pub fn full_version(self) -> &'static str {
        match self {
            ServerVersion::V3_6 => "3.6.23",
            ServerVersion::V4_0 => "4.0.28",
            ServerVersion::V4_2 => "4.2.25",
            ServerVersion::V4_4 => "4.4.29",
            ServerVersion::V5_0 => "5.0.31",
            ServerVersion::V6_0 => "6.0.20",
            ServerVersion::V7_0 => "7.0.16",
            ServerVersion::V8_0 => "8.0.4",
        }
    }

    /// buildInfo's `versionArray`: [major, minor, patch, 0].
    pub fn version_array(self) -> [i32; 4] {
        let mut out = [0i32; 4];
        for (slot, part) in out.iter_mut().zip(self.full_version().split('.')) {
            *slot = part.parse().unwrap_or(0);
        }
        out
    }

    /// `maxWireVersion` in hello replies.
    pub fn max_wire_version(self) -> i32 {
        match self {
            ServerVersion::V3_6 => 6,
            ServerVersion::V4_0 => 7,
            ServerVersion::V4_2 => 8,
            ServerVersion::V4_4 => 9,
            ServerVersion::V5_0 => 13,
            ServerVersion::V6_0 => 17,
            ServerVersion::V7_0 => 21,
            ServerVersion::V8_0 => 25,
        }
    }

    /// `minWireVersion` in hello replies (mongod and mongos report 0 to clients).
    pub fn min_wire_version(self) -> i32 {
        0
    }

    /// Whether command `name` may arrive as an OP_QUERY. Up to 5.0 every command may; from
    /// 5.1 on (so in 6.0, 7.0, 8.0) only the handshake and a few commands old drivers and
    /// 5.0 cluster members still send that way (`checkAllowedOpQueryCommand` in
    /// src/mongo/rpc/check_allowed_op_query_cmd.cpp); others fail with
    /// UnsupportedOpQueryCommand (352).
    pub fn accepts_over_op_query(self, name: &str) -> bool {
        const ALLOWED_FROM_5_1: [&str; 9] = [
            "hello",
            "isMaster",
            "ismaster",
            "_isSelf",
            "authenticate",
            "buildinfo",
            "buildInfo",
            "saslContinue",
            "saslStart",
        ];
        self <= ServerVersion::V5_0 || ALLOWED_FROM_5_1.contains(&name)
    }

    /// Whether a `helloOk` field in a handshake is honoured: the reply then carries
    /// `helloOk: true` (4.4.2 and later; the emulated 4.4 is a later patch release).
    pub fn answers_hello_ok(self) -> bool {
        self >= ServerVersion::V4_4
    }

    /// topologyVersion, awaitable hello and exhaust streaming exist from 4.4 on.
    pub fn has_topology_version(self) -> bool {
        self >= ServerVersion::V4_4
    }

    /// From 4.4 on the server itself labels retryable write errors `RetryableWriteError`.
    pub fn labels_retryable_writes(self) -> bool {
        self >= ServerVersion::V4_4
    }

    /// `connectionId` appears in hello replies from 4.2 on.
    pub fn has_connection_id(self) -> bool {
        self >= ServerVersion::V4_2
    }

    /// `getnonce` (deprecated in 4.0) is answered before 6.0 only (removal version not
    /// confirmed against a source; see the module table).
    pub fn has_getnonce(self) -> bool {
        self < ServerVersion::V6_0
    }

    /// Whether the error codes 10107, 13435 and 13436 carry their post-rename codeNames
    /// (NotWritablePrimary, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary): from 4.4 on
    /// (the rename reached the 4.4 branch in its later patch releases).
    fn renamed_error_codes(self) -> bool {
        self >= ServerVersion::V4_4
    }

    /// Whether the "not primary" error messages depend on the connection: from 5.0 on a
    /// client that sent `helloOk` in its handshake reads "not primary", others "not master".
    fn messages_follow_hello_ok(self) -> bool {
        self >= ServerVersion::V5_0
    }

    /// The codeName and errmsg of error 10107 (a write on a node that is not primary), for
    /// a connection whose handshake did (`client_hello_ok`) or did not carry `helloOk`.
    pub fn not_writable_primary_names(self, client_hello_ok: bool) -> (&'static str, &'static str) {
        let name = if self.renamed_error_codes() {
            "NotWritablePrimary"
        } else {
            "NotMaster"
        };
        let message = if self.messages_follow_hello_ok() && client_hello_ok {
            "not primary"
        } else {
            "not master"
        };
        (name, message)
    }

    /// The codeName and errmsg of error 13435 (a read on a non-primary without
    /// secondaryOk), for a connection whose handshake did or did not carry `helloOk`.
    pub fn not_primary_no_secondary_ok_names(
        self,
        client_hello_ok: bool,
    ) -> (&'static str, &'static str) {
        let name = if self.renamed_error_codes() {
            "NotPrimaryNoSecondaryOk"
        } else {
            "NotMasterNoSlaveOk"
        };
        let message = if self.messages_follow_hello_ok() && client_hello_ok {
            "not primary and secondaryOk=false"
        } else {
            "not master and slaveOk=false"
        };
        (name, message)
    }

    /// The codeName of error 13436 (a node neither primary nor secondary, e.g. recovering).
    pub fn not_primary_or_secondary_name(self) -> &'static str {
        if self.renamed_error_codes() {
            "NotPrimaryOrSecondary"
        } else {
            "NotMasterOrSecondary"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_series_and_patch_versions() {
        assert_eq!("7.0".parse::<ServerVersion>(), Ok(ServerVersion::V7_0));
        assert_eq!("4.4.12".parse::<ServerVersion>(), Ok(ServerVersion::V4_4));
        assert_eq!("8".parse::<ServerVersion>(), Ok(ServerVersion::V8_0));
        assert!("4.1".parse::<ServerVersion>().is_err());
        assert!("".parse::<ServerVersion>().is_err());
    }

    #[test]
    fn wire_versions_increase_with_releases() {
        let wires: Vec<i32> = ALL_VERSIONS.iter().map(|v| v.max_wire_version()).collect();
        assert!(wires.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ServerVersion::V4_4.version_array(), [4, 4, 29, 0]);
    }

    #[test]
    fn error_names_follow_the_table() {
        use ServerVersion::*;
        assert_eq!(
            V4_2.not_writable_primary_names(true),
            ("NotMaster", "not master")
        );
        assert_eq!(
            V4_4.not_writable_primary_names(true),
            ("NotWritablePrimary", "not master")
        );
        assert_eq!(
            V5_0.not_writable_primary_names(false),
            ("NotWritablePrimary", "not master")
        );
        assert_eq!(
            V5_0.not_primary_no_secondary_ok_names(true),
            (
                "NotPrimaryNoSecondaryOk",
                "not primary and secondaryOk=false"
            )
        );
        assert_eq!(V3_6.not_primary_or_secondary_name(), "NotMasterOrSecondary");
        assert_eq!(
            V8_0.not_primary_or_secondary_name(),
            "NotPrimaryOrSecondary"
        );
    }

    #[test]
    fn op_query_allow_list_applies_from_6_0() {
        use ServerVersion::*;
        assert!(V5_0.accepts_over_op_query("find"));
        assert!(!V6_0.accepts_over_op_query("find"));
        assert!(!V8_0.accepts_over_op_query("ping"));
        for name in ["hello", "isMaster", "ismaster", "buildInfo", "saslStart"] {
            assert!(V8_0.accepts_over_op_query(name), "{name}");
        }
    }
}
