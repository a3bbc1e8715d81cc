//! The individual policy checks, in the order [`super::violations`] reports them.

use super::PolicyOptions;
use super::value::{PolicyError, Relation, Remedy, Value};
use crate::report::{GuestPolicy, PlatformInfo, Report, TcbParts, TcbVersion};

type Check = for<'a> fn(&'a Report<'a>, &'a PolicyOptions<'a>) -> Result<(), PolicyError<'a>>;

fn fail<'a>(
    field: &'static str,
    relation: Relation,
    expected: Value<'a>,
    actual: Value<'a>,
) -> PolicyError<'a> {
    PolicyError {
        field,
        relation,
        expected,
        actual,
        remedy: None,
    }
}

fn at_least_u64(field: &'static str, min: u64, actual: u64) -> Result<(), PolicyError<'static>> {
    if actual >= min {
        Ok(())
    } else {
        Err(fail(
            field,
            Relation::AtLeast,
            Value::Number(min),
            Value::Number(actual),
        ))
    }
}

fn exact<'a>(
    field: &'static str,
    want: Option<&'a [u8]>,
    actual: &'a [u8],
) -> Result<(), PolicyError<'a>> {
    match want {
        Some(w) if w != actual => Err(fail(
            field,
            Relation::Equal,
            Value::Bytes(w),
            Value::Bytes(actual),
        )),
        _ => Ok(()),
    }
}

/// A bit the policy forbids unless allowed: fails if set and not allowed.
fn forbidden(field: &'static str, allowed: bool, set: bool) -> Result<(), PolicyError<'static>> {
    if set && !allowed {
        Err(fail(
            field,
            Relation::Equal,
            Value::Flag(false),
            Value::Flag(true),
        ))
    } else {
        Ok(())
    }
}

/// A bit the policy may require: fails if required and not set.
fn required(field: &'static str, require: bool, set: bool) -> Result<(), PolicyError<'static>> {
    if require && !set {
        Err(fail(
            field,
            Relation::Equal,
            Value::Flag(true),
            Value::Flag(false),
        ))
    } else {
        Ok(())
    }
}

fn parts_le(a: TcbParts, b: TcbParts) -> bool {
    a.bootloader <= b.bootloader
        && a.tee <= b.tee
        && a.snp <= b.snp
        && a.microcode <= b.microcode
        && a.fmc.unwrap_or(0) <= b.fmc.unwrap_or(0)
}

fn tcb_at_least(
    field: &'static str,
    min: Option<TcbParts>,
    t: TcbVersion,
) -> Result<(), PolicyError<'static>> {
    match min {
        Some(min) if !t.meets(min) => Err(fail(
            field,
            Relation::AtLeast,
            Value::Tcb(min),
            Value::Tcb(t.parts()),
        )),
        _ => Ok(()),
    }
}

/// Committed values must equal current ones, or (provisional firmware permitted) not exceed them.
/// Committed below current without the permission names the remedy.
fn committed<T: PartialEq>(
    field: &'static str,
    permit: bool,
    committed: T,
    current: T,
    le: impl Fn(&T, &T) -> bool,
    value: impl Fn(T) -> Value<'static>,
) -> Result<(), PolicyError<'static>> {
    let ok = if permit {
        le(&committed, &current)
    } else {
        committed == current
    };
    if ok {
        return Ok(());
    }
    let relation = if permit {
        Relation::AtMost
    } else {
        Relation::Equal
    };
    let provisional = !permit && le(&committed, &current);
    Err(PolicyError {
        remedy: provisional.then_some(Remedy::PermitProvisionalFirmware),
        ..fail(field, relation, value(current), value(committed))
    })
}

fn policy(r: &Report<'_>) -> GuestPolicy {
    r.policy()
}

fn platform(r: &Report<'_>) -> PlatformInfo {
    r.platform_info()
}

fn key_trusted(digests: &[[u8; 48]], digest: &[u8; 48]) -> bool {
    digests.iter().any(|d| d == digest)
}

fn author_key_trusted(r: &Report<'_>, o: &PolicyOptions<'_>) -> bool {
    r.signer_info().author_key_en()
        && key_trusted(o.trusted_author_key_digests, r.author_key_digest())
}

macro_rules! platform_rule {
    ($name:ident, $field:literal, $kind:ident, $rule:ident, $bit:ident) => {
        fn $name<'a>(r: &'a Report<'a>, o: &'a PolicyOptions<'a>) -> Result<(), PolicyError<'a>> {
            match o.platform_info {
                Some(p) => $kind($field, p.$rule, platform(r).$bit()),
                None => Ok(()),
            }
        }
    };
}

platform_rule!(
    pi_smt,
    "PLATFORM_INFO.SMT_EN",
    forbidden,
    allow_smt_enabled,
    smt_enabled
);
platform_rule!(
    pi_tsme,
    "PLATFORM_INFO.TSME_EN",
    forbidden,
    allow_tsme_enabled,
    tsme_enabled
);
platform_rule!(
    pi_ecc,
    "PLATFORM_INFO.ECC_EN",
    required,
    require_ecc,
    ecc_enabled
);
platform_rule!(
    pi_rapl,
    "PLATFORM_INFO.RAPL_DIS",
    required,
    require_rapl_disabled,
    rapl_disabled
);
platform_rule!(
    pi_ciphertext,
    "PLATFORM_INFO.CIPHERTEXT_HIDING_EN",
    required,
    require_ciphertext_hiding,
    ciphertext_hiding_enabled
);
platform_rule!(
    pi_alias,
    "PLATFORM_INFO.ALIAS_CHECK_COMPLETE",
    required,
    require_alias_check_complete,
    alias_check_complete
);
platform_rule!(
    pi_tio,
    "PLATFORM_INFO.TIO_EN",
    forbidden,
    allow_tio_enabled,
    tio_enabled
);

pub(super) const ALL: &[Check] = &[
    |r, o| {
        at_least_u64(
            "GUEST_SVN",
            u64::from(o.minimum_guest_svn),
            u64::from(r.guest_svn()),
        )
    },
    |r, o| {
        let p = policy(r);
        let (maj, min) = o.guest_policy.min_abi;
        if (p.abi_major(), p.abi_minor()) >= (maj, min) {
            Ok(())
        } else {
            Err(fail(
                "POLICY.ABI",
                Relation::AtLeast,
                Value::Version(maj, min),
                Value::Version(p.abi_major(), p.abi_minor()),
            ))
        }
    },
    |r, o| {
        forbidden(
            "POLICY.MIGRATE_MA",
            o.guest_policy.allow_migrate_ma,
            policy(r).migrate_ma_allowed(),
        )
    },
    |r, o| {
        forbidden(
            "POLICY.DEBUG",
            o.guest_policy.allow_debug,
            policy(r).debug_allowed(),
        )
    },
    |r, o| {
        forbidden(
            "POLICY.SMT",
            o.guest_policy.allow_smt,
            policy(r).smt_allowed(),
        )
    },
    |r, o| {
        required(
            "POLICY.SINGLE_SOCKET",
            o.guest_policy.require_single_socket,
            policy(r).single_socket(),
        )
    },
    |r, o| {
        forbidden(
            "POLICY.CXL_ALLOW",
            o.guest_policy.allow_cxl,
            policy(r).cxl_allowed(),
        )
    },
    |r, o| {
        required(
            "POLICY.MEM_AES_256_XTS",
            o.guest_policy.require_mem_aes_256_xts,
            policy(r).mem_aes_256_xts(),
        )
    },
    |r, o| {
        required(
            "POLICY.RAPL_DIS",
            o.guest_policy.require_rapl_dis,
            policy(r).rapl_dis(),
        )
    },
    |r, o| {
        required(
            "POLICY.CIPHERTEXT_HIDING",
            o.guest_policy.require_ciphertext_hiding,
            policy(r).ciphertext_hiding(),
        )
    },
    |r, o| {
        required(
            "POLICY.PAGE_SWAP_DISABLE",
            o.guest_policy.require_page_swap_disable,
            policy(r).page_swap_disable(),
        )
    },
    |r, o| {
        exact(
            "REPORT_DATA",
            o.report_data.as_ref().map(|v| &v[..]),
            r.report_data(),
        )
    },
    |r, o| {
        exact(
            "HOST_DATA",
            o.host_data.as_ref().map(|v| &v[..]),
            r.host_data(),
        )
    },
    |r, o| {
        exact(
            "FAMILY_ID",
            o.family_id.as_ref().map(|v| &v[..]),
            r.family_id(),
        )
    },
    |r, o| {
        exact(
            "IMAGE_ID",
            o.image_id.as_ref().map(|v| &v[..]),
            r.image_id(),
        )
    },
    |r, o| {
        exact(
            "REPORT_ID",
            o.report_id.as_ref().map(|v| &v[..]),
            r.report_id(),
        )
    },
    |r, o| {
        exact(
            "REPORT_ID_MA",
            o.report_id_ma.as_ref().map(|v| &v[..]),
            r.report_id_ma(),
        )
    },
    |r, o| {
        exact(
            "MEASUREMENT",
            o.measurement.as_ref().map(|v| &v[..]),
            r.measurement(),
        )
    },
    |r, o| exact("CHIP_ID", o.chip_id.as_ref().map(|v| &v[..]), r.chip_id()),
    |r, o| {
        committed(
            "COMMITTED_TCB",
            o.permit_provisional_firmware,
            r.committed_tcb().parts(),
            r.current_tcb().parts(),
            |a, b| parts_le(*a, *b),
            Value::Tcb,
        )
    },
    |r, o| tcb_at_least("LAUNCH_TCB", o.minimum_launch_tcb, r.launch_tcb()),
    |r, _| {
        // The VCEK is issued for REPORTED_TCB; a host may report less than it runs, never more.
        let (reported, current) = (r.reported_tcb().parts(), r.current_tcb().parts());
        if parts_le(reported, current) {
            Ok(())
        } else {
            Err(fail(
                "REPORTED_TCB",
                Relation::AtMost,
                Value::Tcb(current),
                Value::Tcb(reported),
            ))
        }
    },
    |r, o| tcb_at_least("REPORTED_TCB", o.minimum_tcb, r.reported_tcb()),
    |r, o| {
        at_least_u64(
            "CURRENT_BUILD",
            u64::from(o.minimum_build),
            u64::from(r.current_version().build),
        )
    },
    |r, o| {
        let v = r.current_version();
        let (maj, min) = o.minimum_version;
        if (v.major, v.minor) >= (maj, min) {
            Ok(())
        } else {
            Err(fail(
                "CURRENT_VERSION",
                Relation::AtLeast,
                Value::Version(maj, min),
                Value::Version(v.major, v.minor),
            ))
        }
    },
    |r, o| {
        committed(
            "COMMITTED_BUILD",
            o.permit_provisional_firmware,
            r.committed_version().build,
            r.current_version().build,
            |a, b| a <= b,
            |v| Value::Number(u64::from(v)),
        )
    },
    |r, o| {
        let (c, cur) = (r.committed_version(), r.current_version());
        committed(
            "COMMITTED_VERSION",
            o.permit_provisional_firmware,
            (c.major, c.minor),
            (cur.major, cur.minor),
            |a, b| a <= b,
            |(major, minor)| Value::Version(major, minor),
        )
    },
    pi_smt,
    pi_tsme,
    pi_ecc,
    pi_rapl,
    pi_ciphertext,
    pi_alias,
    pi_tio,
    |r, o| {
        required(
            "AUTHOR_KEY_EN",
            o.require_author_key,
            r.signer_info().author_key_en(),
        )
    },
    |r, o| {
        if o.require_author_key && !author_key_trusted(r, o) {
            Err(fail(
                "AUTHOR_KEY_DIGEST",
                Relation::OneOf,
                Value::Trusted(o.trusted_author_key_digests.len()),
                Value::Bytes(r.author_key_digest()),
            ))
        } else {
            Ok(())
        }
    },
    |r, o| {
        let needed = o.require_id_block || o.require_author_key;
        if needed
            && !author_key_trusted(r, o)
            && !key_trusted(o.trusted_id_key_digests, r.id_key_digest())
        {
            Err(fail(
                "ID_KEY_DIGEST",
                Relation::OneOf,
                Value::Trusted(o.trusted_id_key_digests.len()),
                Value::Bytes(r.id_key_digest()),
            ))
        } else {
            Ok(())
        }
    },
    |r, o| match o.vmpl {
        Some(v) if v != r.vmpl() => Err(fail(
            "VMPL",
            Relation::Equal,
            Value::Number(u64::from(v)),
            Value::Number(u64::from(r.vmpl())),
        )),
        _ => Ok(()),
    },
    |r, o| {
        let have = r.launch_mit_vector().unwrap_or(0);
        let want = o.minimum_launch_mit_vector;
        if have & want == want {
            Ok(())
        } else {
            Err(fail(
                "LAUNCH_MIT_VECTOR",
                Relation::AtLeast,
                Value::Bits(want),
                Value::Bits(have),
            ))
        }
    },
    |r, o| {
        let have = r.current_mit_vector().unwrap_or(0);
        let want = o.minimum_current_mit_vector;
        if have & want == want {
            Ok(())
        } else {
            Err(fail(
                "CURRENT_MIT_VECTOR",
                Relation::AtLeast,
                Value::Bits(want),
                Value::Bits(have),
            ))
        }
    },
];
