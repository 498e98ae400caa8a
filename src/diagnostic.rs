//! The diagnostic type every stage reports problems with, and the catalogue of stable codes
//! that `bakeryc explain` reads. It only describes problems; rendering them is the CLI's job.

mod kind;

use std::fmt::{self, Write as _};
use std::ops::Range;

pub use kind::{
    ExtensionAdvice, KeyHint, Kind, Missing, SettingAdvice, SyntaxMistake, TypeFix, Written,
};

/// How bad a problem is: errors stop the build, warnings do not (unless `--deny-warnings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

/// A byte range in the source with the text that explains it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Range<usize>,
    pub message: String,
}

/// One problem in a bakery.toml: a stable code, where it is and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub help: String,
}

impl Diagnostic {
    /// A diagnostic with the code's generic help; [`Diagnostic::of`] adds the kind's words.
    fn new(code: Code, severity: Severity, span: Range<usize>, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            code,
            severity,
            primary: Label {
                span,
                message: String::new(),
            },
            secondary: Vec::new(),
            help: code.help().to_owned(),
            message,
        }
    }

    /// The text under the primary span.
    #[must_use]
    fn with_label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = message.into();
        self
    }

    /// Another place involved in the problem, such as the first definition of a duplicate.
    #[must_use]
    fn with_secondary(mut self, span: Range<usize>, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// The concrete fix; replaces the code's generic help.
    #[must_use]
    fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = help.into();
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Shortens every word longer than [`LONGEST_WORD`] characters in the message, labels and
    /// help, so that a value pasted by mistake (a whole certificate, a megabyte of text) is
    /// quoted by its start instead of in full.
    #[must_use]
    pub fn with_long_words_shortened(mut self) -> Self {
        self.message = shorten_long_words(&self.message);
        self.help = shorten_long_words(&self.help);
        for label in std::iter::once(&mut self.primary).chain(&mut self.secondary) {
            label.message = shorten_long_words(&label.message);
        }
        self
    }
}

/// Words longer than this are shortened in diagnostic texts.
pub const LONGEST_WORD: usize = 100;

fn shorten_long_words(text: &str) -> String {
    if !text
        .split_whitespace()
        .any(|word| word.chars().count() > LONGEST_WORD)
    {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len().min(1024));
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for (j, word) in line.split(' ').enumerate() {
            if j > 0 {
                out.push(' ');
            }
            let count = word.chars().count();
            if count > LONGEST_WORD {
                out.extend(word.chars().take(LONGEST_WORD / 2));
                let _ = write!(out, "…({count} characters)");
            } else {
                out.push_str(word);
            }
        }
    }
    out
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Declares the code catalogue: one variant per code, its stable name, a one-line default help
/// and the long explanation printed by `bakeryc explain`.
macro_rules! codes {
    ($($variant:ident => $name:literal, $help:literal, $explain:literal;)*) => {
        /// A stable diagnostic code. Names never change once released: CI annotations and
        /// `explain` depend on them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($variant),* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name),* }
            }

            /// The generic fix, used when a check has nothing more specific to say.
            pub fn help(self) -> &'static str {
                match self { $(Code::$variant => $help),* }
            }

            /// What goes wrong in production without this check, and how to fix it.
            pub fn explanation(self) -> &'static str {
                match self { $(Code::$variant => $explain),* }
            }

            /// Looks a code up by its name, with or without the `bakery::` prefix.
            pub fn from_name(name: &str) -> Option<Code> {
                let name = name.trim();
                let full = if name.starts_with("bakery::") { name.to_owned() } else { format!("bakery::{name}") };
                Self::ALL
                    .iter()
                    .copied()
                    .find(|code| code.as_str() == full)
                    .or_else(|| ALIASES.iter().find(|(old, _)| *old == full).map(|(_, code)| *code))
            }
        }

        impl fmt::Display for Code {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Names a code had before it was renamed: `explain` and CI annotations keep working with them.
const ALIASES: &[(&str, Code)] = &[];

codes! {
    TomlSyntax => "bakery::toml::syntax",
        "fix the TOML syntax at the marked position",
        "bakery.toml is not valid TOML, so nothing in it can be trusted: bakeryc refuses to guess what \
an unreadable file meant and writes nothing. Typical causes are a string without its closing quote, \
a value written without quotes (`storage = 2Gi`), a missing `=`, a `{` or `[` that is never closed, \
or a table header written twice. Fix the syntax at the marked position; bakeryc reports every \
syntax error it can recover from in one run, one per line, and points a table or key defined twice \
at its first definition.";
    WrongType => "bakery::toml::wrong-type",
        "write the value with the type shown in the message",
        "A key holds a value of the wrong TOML type, for example `version = \"17\"` (a string) where an \
integer is expected, `min_version = 1.2` (a number) where the string \"1.2\" is expected, or \
`[database]` (one table) where `[[database]]` (a list of tables) is expected. A tool that coerced \
the value would deploy something other than what was written (`storage = 2` is two bytes); \
bakeryc refuses it and shows how to write the value. A value of the wrong type is not also \
reported as missing.";
    UnknownKey => "bakery::toml::unknown-key",
        "remove the key, or correct its spelling",
        "A key that bakeryc does not know is usually a typo (`storge` for `storage`) or a key written in \
the wrong table (`client_auth` under [postgres]). Silently ignoring it would deploy the default \
instead of what was meant, and the mistake would only show in production (a 2Gi volume where \
50Gi was intended). Every unknown key is an error; the help names the nearest known key, or the \
table the key belongs in. PostgreSQL settings belong in [postgres.settings], and passwords never \
belong in bakery.toml: bakeryc issues them itself.";
    MissingKey => "bakery::toml::missing-key",
        "add the key",
        "A required key is missing, and bakeryc has no safe default for it: the platform name and \
namespace, each database's name, and the PostgreSQL version, image and storage size (set them \
once under [postgres] for every database, or per [[database]]). Guessing would create objects in \
the wrong namespace or volumes of the wrong size, which cannot be shrunk later. The diagnostic \
points at the table that should hold the key; when no database has it, it is reported once, at \
[postgres].";
    InvalidName => "bakery::name::invalid",
        "use lowercase letters, digits and '-', starting and ending with a letter or digit",
        "Kubernetes object names, Service names and label values must be DNS-1123 labels: at most 63 \
characters of lowercase letters, digits and '-', starting and ending with an alphanumeric \
character; storage classes and the cluster domain are dot-separated labels. An invalid name is \
rejected by the API server at deploy time, halfway through an Argo CD sync that has already \
applied some objects; bakeryc rejects it before anything is written and suggests a valid \
spelling (`Auth_DB` -> `auth-db`). Database and cache names also name Services, which must be \
DNS-1035 labels: they start with a letter, so `123` is refused.";
    NameTooLong => "bakery::name::too-long",
        "shorten the name so that the longest derived name fits 63 characters",
        "bakeryc derives several names from each declared name: `<name>-db`, `<name>-db-service`, \
`<name>-db-credentials` and `<name>-db-config` for a database, `<cache>-credentials` for the \
cache, `<platform>-ca` for the platform. Each must fit the 63-character limit of a DNS-1123 \
label, or the API server rejects that one object while accepting the others, leaving a database \
without its Secret or Service. The message says how many characters the declared name may have.";
    DuplicateName => "bakery::name::duplicate",
        "give every database a unique name",
        "Two [[database]] entries share a name, so their Kubernetes objects have the same names: one \
database's Deployment, volume claim and Secrets would silently replace the other's, and both \
services would write into one data directory. Rename or remove one of them; the diagnostic \
points at both.";
    NameCollision => "bakery::name::collides-with-cache",
        "rename the database or the cache",
        "A database and the cache have names that clash. When the cache is named like a database's \
workload (`orders-db`), both would create a Deployment and Service of the same name and one would \
replace the other. When a database has the cache's name (`redis`), the objects differ only by \
`-db`, and a client configured with \"redis\" may reach PostgreSQL instead of Redis or the \
reverse. Give each a distinct name (the cache is named `redis` when [cache] sets no name).";
    UnknownDatabase => "bakery::environment::unknown-database",
        "name a database declared with [[database]]",
        "An environment overrides a database that is not declared. The override would do nothing, which \
usually means a typo or a database that was renamed: production silently keeps the defaults (a \
small volume, small limits) while everyone believes the override applies. Name a declared \
database; the help suggests the nearest one.";
    UnknownCache => "bakery::environment::unknown-cache",
        "declare a [cache], or remove the environment's cache table",
        "An environment overrides the cache, but bakery.toml declares no [cache]. The override would \
do nothing: no Redis is deployed in any environment, while whoever wrote [environments.E.cache] \
expects one with the sizes given there. Declare the cache with [cache] (image and storage), or \
remove the environment's cache table. (Reported as `bakery::toml::unknown-key` before this code \
existed; the key is known, the cache is what is missing.)";
    ReservedLabel => "bakery::platform::reserved-label",
        "remove the label: bakeryc sets it",
        "bakeryc sets the `app.kubernetes.io/` labels name, instance, component, part-of and \
managed-by on every object itself: Deployment selectors (which cannot change once created), \
Services and NetworkPolicies select pods by them, and clients must carry part-of to pass the \
NetworkPolicies. A value from `[platform] labels` would either be overwritten, or break \
selection and lock clients out. Use a label key of your own, such as `example.com/team`.";
    InvalidQuantity => "bakery::quantity::invalid",
        "write a Kubernetes quantity such as 2Gi, 500Mi, 100m or 1",
        "Kubernetes quantities use binary suffixes (Ki, Mi, Gi, Ti) or decimal ones (k, M, G, T) and, \
for CPU, millicores (m). `2GB` or `10gi` is not a quantity: the API server rejects the object and \
the workload never starts. `512m` of memory is a valid quantity that means half a byte, so the \
container would be killed at once; bakeryc refuses `m` on sizes. The help proposes the quantity \
that was most likely meant.";
    NonPositiveQuantity => "bakery::quantity::not-positive",
        "use a size greater than zero",
        "A volume of size zero (or less) cannot be provisioned, so the PersistentVolumeClaim stays \
Pending and the database never starts; a CPU or memory request or limit of zero is either \
rejected or leaves the container unschedulable or killed at once. Use a size greater than zero.";
    RequestAboveLimit => "bakery::resources::request-above-limit",
        "lower the request or raise the limit",
        "A container's request must not exceed its limit; the API server rejects such a pod spec, so \
the workload would never start. Requests and limits are layered ([postgres], then [[database]], \
then the environment, then bakeryc's defaults), so the request may be written in one place and \
the limit come from another: the diagnostic shows both, or says which default applies.";
    ImageLatest => "bakery::image::unpinned",
        "pin the image with a version tag (postgres:17.2-alpine) or a digest (postgres@sha256:...)",
        "An image without a tag, or tagged `latest`, changes under your feet: a node pulling it later \
may start a different major version on the same data directory, which PostgreSQL refuses to \
start, or a Redis with other defaults. Pin a version tag or, better, a digest.";
    ImageInvalid => "bakery::image::invalid",
        "write the image as name:tag or name@sha256:<64 hex digits>",
        "The image reference is malformed (uppercase letters, an empty tag, a truncated digest), so no \
node could pull it and the pod would stay in ImagePullBackOff. Write it as `name:tag`, \
`name@sha256:<64 lowercase hex digits>` or both.";
    ImageVersionMismatch => "bakery::image::version-mismatch",
        "make the image tag and `version` name the same PostgreSQL major version",
        "`version` decides which settings bakeryc writes into postgresql.conf, while the image decides \
which server runs. If they disagree, the server may refuse a setting that does not exist in its \
version and never start, or run on a data directory initialised by another major version. This \
is a warning because custom images may tag differently; for official postgres images make the \
tag and `version` agree.";
    UnsupportedVersion => "bakery::postgres::unsupported-version",
        "declare a PostgreSQL major version bakeryc supports",
        "bakeryc only writes settings it knows to exist in the declared PostgreSQL major version, and \
checks [postgres.settings] and extensions against that version's catalogue. Versions outside its \
catalogue (and versions past their end of life) cannot be checked, so a typo in a setting would \
only show as a crash-looping pod; they are refused.";
    TlsMinVersion => "bakery::tls::min-version",
        "use min_version = \"1.2\" or \"1.3\"",
        "TLS 1.0 and 1.1 are deprecated (RFC 8996) and broken in practice, and SSL is older still. A \
server that accepts them lets a network attacker downgrade clients. `min_version` must be \"1.2\" \
or \"1.3\"; bakeryc writes it to PostgreSQL's ssl_min_protocol_version and Redis's tls-protocols.";
    KeyAlgorithm => "bakery::tls::key-algorithm",
        "use rsa-2048, rsa-3072, rsa-4096, ecdsa-p256 or ecdsa-p384",
        "The key algorithm is unknown or too weak. RSA keys below 2048 bits can be factored and are \
refused by current TLS libraries, so clients would fail the handshake; algorithms such as ed25519 \
are not accepted by every PostgreSQL and Redis client. Use rsa-2048, rsa-3072, rsa-4096, \
ecdsa-p256 or ecdsa-p384.";
    ValidityOrder => "bakery::tls::leaf-outlives-ca",
        "make the server validity shorter than the CA validity",
        "A server certificate cannot be valid beyond its issuer: clients reject the chain as soon as \
the CA expires, even though the leaf still looks valid, and every database goes down on the same \
day. The server validity (default 1y) must be shorter than the CA validity (default 10y).";
    RenewBefore => "bakery::tls::renew-before",
        "make renew_before shorter than the server certificate validity",
        "If renew_before is not shorter than the server validity (default 1y, renew_before default \
30d), every certificate is due for renewal the moment it is issued, and `bakeryc secrets status` \
can never be green, so real expiries drown in noise. Make renew_before a fraction of the validity.";
    LongValidity => "bakery::tls::long-validity",
        "shorten the validity, or accept the warning knowingly",
        "Very long validities (a CA above 30 years, server certificates above 5 years) mean a leaked key \
stays useful for a long time, and rotation procedures are forgotten before they are needed. This \
is a warning; `--deny-warnings` makes it fail CI.";
    ValidityTooLong => "bakery::tls::validity-too-long",
        "use a validity of at most a few decades, such as \"10y\" for a CA",
        "X.509 certificates store their end of validity as a date no later than 9999-12-31, so a \
validity that reaches past it cannot be issued: `bakeryc secrets generate` would fail long after \
`check` passed. `check` refuses a validity that would end after 9999-12-31 if issued on \
2100-01-01 (it stays independent of today). Such validities are far beyond any sensible policy \
anyway: a CA of 10 to 20 years is common.";
    Fingerprint => "bakery::tls::fingerprint",
        "copy the fingerprint `bakeryc secrets status` or `openssl x509 -noout -fingerprint -sha256` prints",
        "`[environments.E] trusted_cas` lists CA certificates that `bakeryc secrets status` accepts \
in E's trust files (ca.crt, ca-previous.crt, ca-bundle.crt) although bakeryc did not issue them \
for E, for example a CA shared with another system during a migration. Each entry is the SHA-256 \
fingerprint of the certificate: 64 hex digits, colons allowed, as `openssl x509 -noout \
-fingerprint -sha256` prints it. A name would not do: anyone can issue a CA with any name.";
    CommonName => "bakery::tls::common-name",
        "use a short descriptive name such as \"Bakery IA Internal CA\"",
        "The CA common name is empty, blank or longer than the 64 characters X.509 allows for a \
common name. Certificate generation would fail at `bakeryc secrets generate` time, or produce a CA \
that clients and operators cannot recognise in `openssl x509 -text` output. Write a short, \
descriptive name of 1 to 64 printable characters: a control character (newline, escape) would \
reach terminals through `openssl` and `bakeryc secrets status`, forging lines or driving them.";
    CertManagerUnused => "bakery::tls::cert-manager-unused",
        "add `provider = \"cert-manager\"` under [tls], or remove [tls.cert_manager]",
        "`[tls.cert_manager]` only means something when cert-manager issues the servers' \
certificates. With the default `provider = \"bakeryc\"` it would be ignored, and the issuer it names \
would never sign anything, so bakeryc refuses it instead of dropping it in silence.";
    CertManagerMinimum => "bakery::tls::cert-manager-minimum",
        "use at least 1h for validities and 5m for renew_before",
        "cert-manager refuses a Certificate whose `duration` is below one hour or whose `renewBefore` \
is below five minutes: the Certificate would never be issued and the pods that mount its Secret \
would never start. With `provider = \"cert-manager\"`, bakeryc therefore refuses `[tls.ca] \
validity` and `[tls.server] validity` below 1h and `[tls.server] renew_before` below 5m at compile time.";
    InvalidDuration => "bakery::duration::invalid",
        "write a duration such as 90d, 3y, 12h or 500ms",
        "The duration could not be read, or is zero or negative. Durations are a number and a unit: \
ms, s, m, h, d, w, mo or y (`500ms`, `90d`, `3y`); `log_min_duration` also accepts \"off\". A \
bare number is refused because its unit would be a guess: PostgreSQL reads \
log_min_duration_statement = 500 as milliseconds, a person may mean seconds.";
    LogStatementAll => "bakery::audit::log-statement-all",
        "use log_statement = \"ddl\" or \"mod\"",
        "With log_statement = \"all\" PostgreSQL writes every statement to its log, including \
`ALTER ROLE ... PASSWORD '...'` in clear text and every row of data passed as a literal. Anyone \
who can read the logs (log shipping, support staff) then has the passwords. Use \"ddl\" or \
\"mod\"; find slow statements with log_min_duration instead. This is a warning, so that it can \
be used knowingly for a short investigation.";
    InvalidChoice => "bakery::value::invalid-choice",
        "use one of the values listed in the message",
        "The value is not one of the choices bakeryc knows for this key (log_statement: none, ddl, mod, \
all; client_auth: none, optional, required). An unknown value would reach the server's \
configuration, where PostgreSQL refuses to start and Redis exits, so it is refused here with the \
list of choices and the nearest one.";
    UnknownExtension => "bakery::postgres::unknown-extension",
        "check the extension name, or install it in a custom image",
        "The extension is not part of the contrib set shipped with the declared PostgreSQL version (a \
typo such as pg_trgrm, an extension removed in that version such as adminpack in 17, or a \
third-party one such as postgis), so `CREATE EXTENSION` in the postStart hook fails: the kubelet \
restarts the container and the pod never turns Ready, unless the image adds it. This is a warning for well-formed names, \
so custom images can add extensions; a name that cannot be an extension is an error.";
    UnknownSetting => "bakery::postgres::unknown-setting",
        "remove the setting or declare a PostgreSQL version that has it",
        "PostgreSQL refuses to start when postgresql.conf names a setting that does not exist in its \
version: the pod crash-loops with `unrecognized configuration parameter`. bakeryc checks every \
[postgres.settings] entry against the declared version, says in which versions a setting exists \
when it was added or removed, and suggests the nearest setting for a typo. Settings with a dot \
(pg_stat_statements.max) belong to extensions and are accepted.";
    ReservedSetting => "bakery::postgres::reserved-setting",
        "remove the setting: bakeryc manages it",
        "bakeryc writes this setting itself (TLS, listening, authentication or audit). Overriding it \
would break the guarantees bakeryc makes about the compiled server: `ssl = off` would accept \
clear-text connections, another listen_addresses or port would not match the Service. Remove it \
and use the bakery.toml key that controls it ([tls], [postgres.audit]).";
    InvalidSettingValue => "bakery::postgres::invalid-setting-value",
        "write a finite number, or a string on one line",
        "postgresql.conf has no spelling for `nan` or `inf`, and a value is one line of the file: a \
line break inside a string would end the setting there and turn the rest into a line PostgreSQL \
cannot read, so the server refuses to start. TOML accepts all of these, so the value has the \
right type but cannot be written; write a finite number, or a string without line breaks. \
(Reported as `bakery::toml::wrong-type` before this code existed.)";
    ClientAuthContradiction => "bakery::cache::client-auth",
        "use client_auth = \"none\" or \"optional\", or declare client certificates",
        "With client_auth = \"required\" Redis refuses every TLS client that does not present a \
certificate signed by the CA. Without `[tls] client_certificates = true` bakeryc issues no client \
certificates, so every service would be locked out and the cache would be unusable. Use \"none\" \
(clients authenticate with the password over server-verified TLS) or \"optional\", or declare \
client certificates, under which \"required\" is the default.";
    SecretsKeyWithoutProvider => "bakery::secrets::unused-key",
        "set [secrets] provider = \"external-secrets\", or remove the key",
        "`store` and `remote_key` say where External Secrets reads the passwords from, so they only \
mean something with provider = \"external-secrets\"; with the default provider (`bakeryc secrets \
generate`) nothing would read them and the build would look as if it used the store. `remote_key` \
also needs a `store`: without one each password comes from a Password generator in the cluster.";
    DestinationWithoutGitops => "bakery::gitops::unused-destination",
        "add [gitops], or remove the destination",
        "`destination` says where Argo CD syncs an environment, which only means something when \
[gitops] makes bakeryc write the Argo CD Applications; without it nothing reads the destination and \
the build would look as if Argo CD were set up.";
    DestinationNamespace => "bakery::gitops::destination-namespace",
        "leave namespace out, or write [platform] namespace",
        "Every object bakeryc generates names its namespace ([platform] namespace), and Argo CD's \
destination namespace only applies to objects that name none: a different destination namespace \
would not move anything and would make the Application say something untrue. To move the \
platform, change [platform] namespace.";
    RemoteKeyWithoutWorkload => "bakery::secrets::remote-key",
        "put {workload} in remote_key, e.g. \"bakery/{environment}/{workload}\"",
        "Every workload has its own password. A `remote_key` without `{workload}` names the same \
store entry for every database and the cache, so they would all share one password and a leak \
of one would open all. `{environment}` keeps environments apart as well.";
    DuplicateClient => "bakery::client::duplicate",
        "merge the two [[client]] entries",
        "Two [[client]] entries share a name. Each client gets one role, one password, one \
certificate and one set of Secrets by its name, so the second would silently replace the first's \
databases or access level. List every database the service uses in one entry.";
    ClientNameTaken => "bakery::client::name-taken",
        "name the client after its service",
        "A client's name becomes its Secrets (`<client>-credentials`, `<client>-client-tls`), its \
PostgreSQL role and its Redis user. A client named like a database's workload (`orders-db`) or \
the cache would overwrite their credentials Secret; `postgres` is the image's superuser, \
`default` is Redis's built-in user, and a name ending in `-user` would become a database's owner \
role `<db>_user`. Name the client after the service, such as `orders-service`.";
    ClientUnknownTarget => "bakery::client::unknown-target",
        "name a database declared with [[database]], or declare the [cache]",
        "A client says it connects to a database that is not declared, or to the cache when there is \
no [cache]. Its network policy, role and profile would point at nothing, and the service would be \
locked out of what it really uses, which usually means a typo or a renamed database. The help \
suggests the nearest declared database.";
    ClientReachesNothing => "bakery::client::nothing-to-reach",
        "list its databases, or set cache = true",
        "A [[client]] with no databases and without `cache = true` reaches nothing: it would get a \
password and a certificate that open no door, which is usually a forgotten `databases` key. \
List what the service connects to, or remove the entry.";
    EmptySelector => "bakery::client::empty-selector",
        "name the labels of the service's pods",
        "A NetworkPolicy peer with an empty pod selector admits every pod of the namespace, which is \
exactly the platform-wide access that declaring clients removes. Write the labels the service's \
pods carry, or leave `selector` out to select `app.kubernetes.io/name = <name>`.";
    DatabaseWithoutClient => "bakery::client::unused-database",
        "add the database to the client that uses it",
        "Once [[client]] entries are declared, a database's network policy admits exactly the pods of \
the clients that list it. A database that no client lists admits no pod at all: either a client \
forgot it (and will be refused in production) or the database is no longer used. This is a \
warning, so that a database can be kept while its last service moves away.";
    NoDatabases => "bakery::database::none",
        "declare at least one [[database]]",
        "A platform without databases compiles to nothing useful, and applying it would leave the \
namespace without the databases the services expect. This is usually a misspelt `[[database]]` \
header (reported as an unknown key) or `[database]` with single brackets.";
    AdoptInvalid => "bakery::adopt::invalid",
        "write the name exactly as the running platform has it",
        "An adopt table names what already exists: a volume claim, the data directory inside it, a \
database, a role, a Deployment or a Service. A value that cannot be such a name (a claim with \
capitals, a data path with `..` or starting with `/`, a role that would need quotes) cannot match \
anything that runs, and bakeryc would otherwise mount an empty directory or log in as a role \
that does not exist. Copy the names from `kubectl get pvc,deploy,svc` and `\\l` / `\\du` in psql; \
see docs/adopt.md.";
    AdoptStorage => "bakery::adopt::storage",
        "remove `storage` and `storage_class`: the adopted claim keeps its own",
        "An adopted claim exists already: its size and storage class are the claim's own, set when it \
was created. bakeryc never defines, resizes or recreates it, so a `storage` or `storage_class` \
written beside `adopt` would be ignored, or, if honoured, would mean a second, empty volume or a \
claim that Kubernetes refuses to shrink. Remove them from this table; resize the claim itself \
with `kubectl patch pvc` if it needs more room.";
    AdoptCollision => "bakery::adopt::collision",
        "give each workload its own claim, Deployment, Service, database and role",
        "Two workloads would share one adopted name. Two servers on one claim write into one data \
directory and corrupt it; two with one Deployment or Service name replace each other on apply; \
two databases with one role or database name would log into each other's data. Each adopted \
name must belong to exactly one workload, and must differ from the names bakeryc derives for \
the others (`<name>-db`, `<name>-db-service`, `<name>-db-data`, `<name>_db`, `<name>_user`).";
    VolumeShrink => "bakery::plan::volume-shrink",
        "keep the storage size at least as large as the deployed claim",
        "Kubernetes can grow a PersistentVolumeClaim (when its StorageClass has allowVolumeExpansion) \
but never shrink one: applying the smaller size fails at sync time, and a tool that deleted and \
recreated the claim to get there would lose the data. `bakeryc build` compares the new tree with \
the generated/ tree on disk and refuses. To really use less space, create a new database, move \
the data (pg_dump/pg_restore, docs/upgrade.md) and retire the old one (`retired = true`).";
    StorageClassChange => "bakery::plan::storage-class-change",
        "keep the deployed storage_class, or move the data to a new database",
        "A PersistentVolumeClaim's storageClassName is immutable once it is bound: applying another \
class fails at sync time, and recreating the claim would start the database on an empty volume. \
`bakeryc build` compares the new tree with the generated/ tree on disk and refuses. To move to \
another class, create a new database on it, restore a backup into it (docs/upgrade.md) and retire \
the old one (`retired = true`).";
    SelectorChange => "bakery::plan::selector-change",
        "keep the workload's selector labels",
        "A Deployment's selector is immutable: applying a changed one fails at sync time. The \
selector is made of `app.kubernetes.io/name` and `app.kubernetes.io/instance`, derived from the \
workload's kind and name; it changes only when bakeryc's naming does, and then the old workload \
must be deleted by hand first.";
    VersionDowngrade => "bakery::plan::version-downgrade",
        "declare the deployed major version (or a later one, with the upgrade procedure)",
        "PostgreSQL refuses to start on a data directory written by another major version (`database \
files are incompatible with server`): a lower `version` would leave the pod crash-looping, and no \
tool downgrades a data directory in place. To go back, restore a dump into a new database of \
the older version (docs/upgrade.md).";
    MajorUpgrade => "bakery::plan::major-upgrade",
        "follow the upgrade procedure in docs/upgrade.md, then build with --allow-major-upgrade",
        "A new PostgreSQL major version cannot start on the old data directory: the data must first be \
moved with a dump and restore (or pg_upgrade). Applying the new image alone leaves the pod \
crash-looping. docs/upgrade.md is the procedure (back up, dump, build with \
`bakeryc build --allow-major-upgrade`, restore into the new server); the flag says the procedure \
is under way, for this one build.";
    OrphanedVolume => "bakery::plan::orphaned-volume",
        "declare the database again with `retired = true` to drop it deliberately",
        "A database that disappears from bakery.toml (removed, or renamed, which is a new empty \
database under the new name) leaves its PersistentVolumeClaim, with the data, out of the tree: \
a pruning sync deletes it and the volume follows its reclaim policy. `bakeryc build` compares the \
new tree with the generated/ tree on disk and refuses. If the database is really gone, keep its \
[[database]] with `retired = true` for one build (back it up first, docs/upgrade.md); to rename \
one, create the new name, restore the data into it, then retire the old name.";
    InvalidCron => "bakery::backup::invalid-cron",
        "write five fields (minute hour day-of-month month day-of-week), e.g. \"0 1 * * 0\"",
        "A backup schedule becomes the `schedule` of a Kubernetes CronJob. The API server accepts \
only five-field cron expressions (or a macro such as `@daily`); a CronJob with an invalid schedule \
is refused halfway through a sync, and a schedule that parses as something else than meant (six \
fields with seconds, a day 32) would silently never back anything up. bakeryc checks each field's \
range, steps and names at `check`.";
    BackupValue => "bakery::backup::invalid-value",
        "use a value that keeps at least one backup and archives WAL at most every few minutes",
        "`retention = { full = 0 }` would make pgBackRest expire every full backup (and with it the WAL \
needed for point-in-time recovery) right after taking it: the repository would hold nothing to \
restore. `archive_timeout` below one second would switch WAL files continuously and fill the \
repository with empty segments. Keep at least one full backup (two lets a restore fall back on \
the previous one) and an archive_timeout of seconds to minutes.";
    BackupImageUnchecked => "bakery::backup::image-unchecked",
        "tag the backup image with the PostgreSQL version first (`17.2-pgbackrest`), and make sure it runs that major version",
        "The backup image replaces the database image of every backed-up database, so it must run the \
declared PostgreSQL major version: a different major version cannot read the data directory, and \
pgBackRest refuses a stanza whose version changed. bakeryc reads the major version from a tag that \
starts with it (`17.2-alpine`); a tag that does not (`v3`, `latest-pgbackrest`) cannot be checked, \
so this is a warning: check the image yourself, or tag it by version.";
    AdoptedNameChange => "bakery::plan::adopted-name-change",
        "keep the adopted claim, data_path, database, role, workload and service as deployed",
        "Once a tree with `[database.adopt]` or `[cache.adopt]` is deployed, the running server's data \
is on that claim and in that data directory, and its clients connect with that database, role, \
Deployment and Service. A build that changes one of them would start the server on another (or \
empty) directory, or leave every client with a name that no longer exists. The deployed \
Deployment records what it adopted (`adopt.bakeryc.dev/*` annotations); `bakeryc build` compares \
them with the new tree and refuses. docs/adopt.md (\"Changing adopted names\") says how to move \
deliberately.";
    AdoptionDropped => "bakery::plan::adoption-dropped",
        "keep the deployed adopt table",
        "The deployed tree adopted an existing claim for this workload; without the adopt table, \
bakeryc would mount a claim it creates, empty, and the server would start on no data (PostgreSQL \
would even run initdb on it). `bakeryc build` reads the adopted claim from the deployed \
Deployment's `adopt.bakeryc.dev/claim` annotation and refuses. docs/adopt.md (\"Changing adopted \
names\") says how to move the data deliberately.";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn long_words_are_shortened() {
        let long = "a".repeat(500);
        let kind = Kind::NotDomain {
            written: long,
            problem: "bad".to_owned(),
        };
        let d = Diagnostic::of(0..1, &kind).with_long_words_shortened();
        assert!(d.message.len() < 100, "{}", d.message);
        assert!(
            d.message
                .ends_with("(502 characters) is not a DNS domain: bad"),
            "{}",
            d.message
        );
        assert_eq!(d.primary.message, "not a DNS domain");
    }

    #[test]
    fn codes_are_unique_and_explained() {
        let names: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len(), "duplicate code names");
        for code in Code::ALL {
            assert!(code.as_str().starts_with("bakery::"), "{code}");
            assert!(
                code.explanation().len() > 40,
                "{code} needs a real explanation"
            );
            assert!(!code.help().is_empty());
            assert_eq!(Code::from_name(code.as_str()), Some(*code));
        }
        assert_eq!(Code::from_name("toml::unknown-key"), Some(Code::UnknownKey));
    }
}
