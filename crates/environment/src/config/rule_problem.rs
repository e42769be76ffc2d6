//! What can be wrong with `[[rules]]`, `[[partners]]` and `receive`: each text names the rule
//! broken and, where there is one, the fix.

/// One reason a distribution rule, a partner or a server's `receive` is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleProblem {
    /// Not one of a closed set of names.
    #[error("`{key}` must be one of {expected}; got {got:?}")]
    BadChoice {
        /// The key.
        key: &'static str,
        /// The names allowed.
        expected: String,
        /// The value.
        got: String,
    },
    /// A kind that rules do not move.
    #[error("records of kind {kind} are not distributed by rules: users and the master token reach every server by replication, and allotment grants move by [[allotment_rules]]")]
    KindNotDistributed {
        /// The kind.
        kind: &'static str,
    },
    /// Not a target.
    #[error("`target` must be a server code (like RS), group:NAME, all, owner or partner:NAME; got {0:?}")]
    BadTarget(String),
    /// A group no server is in.
    #[error("`target` names group:{0}, but no server has group = {0:?}")]
    EmptyGroup(String),
    /// A partner not declared.
    #[error("`target` names partner:{0}, which is not in [[partners]]")]
    UnknownPartner(String),
    /// Ownership never leaves the environment.
    #[error("data_and_ownership cannot go to partner:{0}: ownership never leaves the environment; use data_only or independent_copy")]
    OwnershipToPartner(String),
    /// A record has one owner.
    #[error("data_and_ownership needs one new owner, but `target` {0} may be several servers; name one server, or owner")]
    OwnershipToMany(String),
    /// A mapping makes a copy; the record itself is not remapped.
    #[error("[rules.map] makes copies (data_only, independent_copy); data_and_ownership moves the record itself, unchanged")]
    MapWithOwnership,
    /// The archive takes closed records by move only (it never holds copies).
    #[error("`target` reaches archive server {code}, which takes only data_and_ownership moves, not {mode}")]
    ArchiveMode {
        /// The archive.
        code: String,
        /// The mode asked for.
        mode: &'static str,
    },
    /// Only an owned record can be returned.
    #[error("`operation = \"return\"` gives ownership back, so `mode` must be data_and_ownership, not {0}")]
    ReturnNeedsOwnership(&'static str),
    /// The new owner replicates its own changes.
    #[error("with data_and_ownership the new owner sends updates by normal replication; `updates` must be never or on_return, not {0}")]
    UpdatesWithOwnership(&'static str),
    /// Only an owned record comes back.
    #[error("`updates = \"on_return\"` needs mode data_and_ownership (only a record given away is returned), not {0}")]
    OnReturnNeedsOwnership(&'static str),
    /// An independent copy has no link to follow.
    #[error("an independent copy is not linked to its source: {0}")]
    IndependentCopyLinked(&'static str),
    /// `update` refreshes linked copies.
    #[error("`operation = \"update\"` sends later changes to data_only copies, so `mode` must be data_only, not {0}")]
    UpdateNeedsDataOnly(&'static str),
    /// An update rule that never sends.
    #[error("`operation = \"update\"` with `updates = \"never\"` would never send anything; set `updates` to immediately, hourly or daily")]
    UpdateNeverSent,
    /// `owner` needs a property to look up.
    #[error("`target = \"owner\"` sends a record to its property's server, but {0} records name no property")]
    OwnerWithoutProperty(&'static str),
    /// Partial replication is for property servers.
    #[error("`receive = \"own\"` is for property servers (they receive their own properties' records); {server} is a {role} server")]
    ReceiveOwnOnNonProperty {
        /// The server.
        server: String,
        /// Its role.
        role: &'static str,
    },
    /// Ownership could go round for ever.
    #[error("data_and_ownership transfers of {kind} records could go round in a cycle: {path}; rules on the cycle: {}", .rules.join(", "))]
    OwnershipCycle {
        /// The kind.
        kind: &'static str,
        /// The servers and rules, `WB → RS (a) → WB (b)`.
        path: String,
        /// The rules' names, in cycle order.
        rules: Vec<String>,
    },
    /// Two distribution rules with one name.
    #[error("distribution rule {name:?} is declared twice (first at line {first_line})")]
    DuplicateRule {
        /// The name.
        name: String,
        /// Line of the first.
        first_line: usize,
    },
    /// Two partners with one name.
    #[error("partner {name:?} is declared twice (first at line {first_line})")]
    DuplicatePartner {
        /// The name.
        name: String,
        /// Line of the first.
        first_line: usize,
    },
    /// A partner is another environment, not one of our servers.
    #[error("partner url {url} is the url of server {server}; a partner is another environment")]
    PartnerUrlIsServer {
        /// The url.
        url: String,
        /// Our server.
        server: String,
    },
    /// A problem inside an expression (syntax, field, types), at its exact place.
    #[error("in `{key}`: {message}")]
    Expression {
        /// `when` or `compute.FIELD`.
        key: String,
        /// What.
        message: String,
    },
    /// A field the kind does not have.
    #[error("`{key}` names `{field}`, but {kind} has no such field; its fields: {fields}")]
    UnknownField {
        /// Where (`match`, `rename`, `drop`, `set`, `compute`).
        key: String,
        /// The kind.
        kind: &'static str,
        /// The field.
        field: String,
        /// The kind's fields.
        fields: String,
    },
    /// Identity is never copied.
    #[error("`{key}` names `{field}`, which a copy never takes from its source (it gets its own id, owner and version)")]
    MetaField {
        /// Where.
        key: String,
        /// The field.
        field: String,
    },
    /// A field both dropped and renamed.
    #[error("`{0}` is both dropped and renamed")]
    DroppedAndRenamed(String),
    /// Two source fields end up in one target field.
    #[error("the copy's `{field}` would come from both `{first}` and `{second}`")]
    TwoSources {
        /// The target field.
        field: String,
        /// One source.
        first: String,
        /// The other.
        second: String,
    },
    /// A field both set and computed.
    #[error("`{0}` is both set and computed")]
    SetAndComputed(String),
    /// Fields copied into a kind that lacks them.
    #[error("the mapping copies {} of {from} into {to}, which has no such field; drop or rename them", .fields.join(", "))]
    FieldsTargetLacks {
        /// The source fields.
        fields: Vec<String>,
        /// The source kind.
        from: &'static str,
        /// The target kind.
        to: &'static str,
    },
    /// A copy that could not be imported.
    #[error("mapping loses required field `{field}` of {kind}")]
    LosesRequired {
        /// The field.
        field: &'static str,
        /// The target kind.
        kind: &'static str,
    },
    /// A linked copy inside the environment, where every server receives its records anyway.
    #[error("data_only copies go to partner environments: every server of this environment receives the records meant for it already (all, or with receive = own its own properties')")]
    LinkedCopyInEnvironment,
    /// Ownership of a kind that stays with its property's owner.
    #[error("{0} records stay with their property's owner; only bookings, guests and notes change owner")]
    NotTransferable(&'static str),
    /// A copy into a kind a server cannot take copies of.
    #[error("a copy becomes a guest, property or room type at its target, not a {0}")]
    NotCopyable(&'static str),
    /// A constant of the wrong type for its field.
    #[error("`set.{field}` must be {expected} for {kind}")]
    WrongConstant {
        /// The field.
        field: String,
        /// The target kind.
        kind: &'static str,
        /// What it must be.
        expected: &'static str,
    },
}
