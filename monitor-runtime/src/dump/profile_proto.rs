//! The messages of pprof's `profile.proto` (package `perftools.profiles`)
//! that a goroutine profile writes, as prost encodes them.
//!
//! Declared here with prost's derive rather than taken from the `pprof`
//! crate: that crate is a CPU profiler that ships these types beside its
//! sampler, and building it took some 25 crates (its `nix`, `findshlibs`,
//! `symbolic-demangle`, and `prost-build` with `regex` and `petgraph` as a
//! build dependency never run). The field numbers and types are the
//! schema's (github.com/google/pprof, `proto/profile.proto`); fields that a
//! goroutine profile never sets (`mapping`, `drop_frames`, a location's
//! address, a label's number) are left out, which protobuf reads as unset.

/// `Profile`: the samples and the tables they point into.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Profile {
    /// What each value of a sample counts.
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// Every string of the profile; the other messages hold indices into
    /// it, and index 0 is the empty string.
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
    /// Indices into the string table.
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
}

/// `ValueType`: a kind of value and its unit, as string indices.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct ValueType {
    /// `type` in the schema.
    #[prost(int64, tag = "1")]
    pub ty: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// `Sample`: a stack (innermost location first), its values and labels.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// `Label`: a string label of a sample (key and value as string indices).
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Label {
    #[prost(int64, tag = "1")]
    pub key: i64,
    #[prost(int64, tag = "2")]
    pub str: i64,
}

/// `Location`: a place in the code, as the lines of its functions.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Location {
    /// Non-zero, unique in the profile.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

/// `Line`: a function and a line of its source.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    #[prost(int64, tag = "2")]
    pub line: i64,
}

/// `Function`: names and file, as string indices.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Function {
    /// Non-zero, unique in the profile.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// As shown (`Type::f`).
    #[prost(int64, tag = "2")]
    pub name: i64,
    /// As in the binary (`<Type as Trait>::f`).
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
    #[prost(int64, tag = "5")]
    pub start_line: i64,
}
