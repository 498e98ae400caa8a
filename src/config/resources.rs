//! `resources = { requests = { cpu, memory }, limits = { cpu, memory } }`: the one resources
//! table `[postgres]`, `[[database]]`, `[cache]` and environments share. Defaults differ per
//! workload and live with their section.

use super::{Default, Fields, Key, Kind, Required, Sp, Span, Table};

pub static TABLE: Table = Table {
    title: "a `resources` table",
    doc: "CPU and memory requests and limits",
    keys: &[
        Key {
            name: "requests",
            kind: Kind::Table(&CPU_MEMORY),
            required: Required::No,
            default: Default::None,
            doc: "what the scheduler reserves",
            example: "{ cpu = \"500m\", memory = \"512Mi\" }",
        },
        Key {
            name: "limits",
            kind: Kind::Table(&CPU_MEMORY),
            required: Required::No,
            default: Default::None,
            doc: "the most the container may use",
            example: "{ cpu = \"500m\", memory = \"512Mi\" }",
        },
    ],
    inherits: None,
    inline: true,
};

pub static CPU_MEMORY: Table = Table {
    title: "resources.requests or resources.limits",
    doc: "CPU and memory",
    keys: &[
        Key {
            name: "cpu",
            kind: Kind::Quantity,
            required: Required::No,
            default: Default::None,
            doc: "cores (`1`, `0.5`) or millicores (`500m`)",
            example: "\"500m\"",
        },
        Key {
            name: "memory",
            kind: Kind::Quantity,
            required: Required::No,
            default: Default::None,
            doc: "bytes with a binary unit (`512Mi`, `1Gi`)",
            example: "\"512Mi\"",
        },
    ],
    inherits: None,
    inline: true,
};

/// The `resources` key of a workload table, with that workload's defaults.
pub const fn key(defaults: &'static [&'static str; 4]) -> Key {
    Key {
        name: "resources",
        kind: Kind::Table(&TABLE),
        required: Required::No,
        default: Default::Resources(defaults),
        doc: "`{ requests = { cpu, memory }, limits = { cpu, memory } }`, merged key by key",
        example: "{ requests = { cpu = \"100m\", memory = \"256Mi\" }, limits = { cpu = \"1\", memory = \"512Mi\" } }",
    }
}

#[derive(Clone, Debug, Default)]
pub struct RawResources {
    pub span: Span,
    pub requests: Option<RawCpuMemory>,
    pub limits: Option<RawCpuMemory>,
}

#[derive(Clone, Debug, Default)]
pub struct RawCpuMemory {
    pub span: Span,
    pub cpu: Option<Sp<String>>,
    pub memory: Option<Sp<String>>,
}

pub fn read(t: &mut Fields<'_, '_, '_>) -> RawResources {
    let cpu_memory = |c: &mut Fields<'_, '_, '_>| RawCpuMemory {
        span: c.span.clone(),
        cpu: c.quantity("cpu"),
        memory: c.quantity("memory"),
    };
    RawResources {
        span: t.span.clone(),
        requests: t.table("requests", cpu_memory),
        limits: t.table("limits", cpu_memory),
    }
}
