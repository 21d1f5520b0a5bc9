//! The HNSW graph at scale: `N` (default 1,000,000) unit vectors of 384 values in each storage,
//! its graph built (seconds, file size, memory) with the shipped M and efConstruction, then
//! mapped again and asked 500 queries for several ef: the share of the exact scan's top 10 it
//! finds (overlap@10), ms per query on one thread (p50, p99), queries/s batched on every core,
//! and what the process holds resident of the rows and the graph.
//!
//!     cargo bench -p dense --bench hnsw [-- N [f32|f16|i8 ...]
//!         [--rank R | --rows FILE [--dim D] | --like FILE] [--m M] [--ef-construction N]
//!         [--dims D [--rerank R]] [--keep DIR]]
//!
//! The vectors are uniform random (the worst case for any graph: every vector about as far
//! from every other), or with `--rank R` near a random subspace of R dimensions (queries drawn
//! the same way), or with `--rows FILE` the f32 rows of a dense folder's `vectors.bin` (queries:
//! 500 of its rows, spread over it; `--dim` their length, 384 unless said), or with
//! `--like FILE` drawn from the normal distribution with those rows' mean and covariance (so with
//! their spectrum: the demo's MiniLM rows keep 79 % of their variance in 128 of 384 components;
//! 384 values only), then scaled to length 1 (queries drawn the same way). `--m` and `--ef-construction` build with other than the shipped M and efConstruction;
//! `--dims D` builds a reduced graph of D principal components whose `--rerank R` (default 100)
//! candidates the rows' values order.
//! `--keep DIR` leaves the f32 rows, the queries and the exact top 10 in DIR (`vectors.bin`,
//! `queries.bin`, `exact.bin`) for `benches/dense/hnsw_faiss.py`, which puts faiss's
//! IndexHNSWFlat through the same measures over the same vectors.

#[path = "../../../benches/proc.rs"]
mod proc;
mod synthetic;

use std::{io::Write as _, path::Path, time::Instant};

use dense::{Components, Graph, GraphParams, Phase, Reduced, Storage, Vectors};
use rayon::prelude::*;
use synthetic::{DIM, Unit};

const QUERIES: usize = 500;
const EFS: [usize; 6] = [16, 32, 64, 128, 256, 512];

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// The `p` quantile of `times`, sorted.
fn quantile(times: &[f64], p: f64) -> f64 {
    times[((times.len() - 1) as f64 * p).round() as usize]
}

/// Writes `values` little-endian into `path`.
fn write_le<T: Copy, const N: usize>(path: &Path, values: &[T], bytes: impl Fn(T) -> [u8; N]) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for &v in values {
        out.write_all(&bytes(v)).unwrap();
    }
}

/// Unit vectors near a random subspace of `rank` dimensions (a point of the subspace plus a
/// little noise in every direction): neighbourhoods with structure, as sentence embeddings have,
/// where uniform vectors of 384 values are all about as far from each other.
pub struct LowRank {
    basis: Vec<Vec<f32>>,
    unit: Unit,
}

/// The noise's scale beside one basis direction's.
const NOISE: f32 = 0.3;

impl LowRank {
    /// The same subspace for every run; `seed` picks the stream of points in it.
    pub fn new(rank: usize, seed: u64) -> LowRank {
        let mut basis_stream = Unit(0x1234_5678_9abc_def1);
        let basis = (0..rank)
            .map(|_| (0..DIM).map(|_| basis_stream.uniform()).collect())
            .collect();
        LowRank {
            basis,
            unit: Unit(seed),
        }
    }

    pub fn point(&mut self) -> Vec<f32> {
        let mut v: Vec<f32> = (0..DIM).map(|_| NOISE * self.unit.uniform()).collect();
        for direction in &self.basis {
            let z = self.unit.uniform();
            v.iter_mut().zip(direction).for_each(|(x, d)| *x += z * d);
        }
        synthetic::unit(v)
    }
}

/// Unit vectors drawn from the normal distribution of some rows' mean and covariance.
pub struct Like {
    mean: Vec<f32>,
    /// `DIM` × `DIM`, row-major: the covariance's eigenvectors scaled by the square roots of
    /// their eigenvalues, so that `mean + root · z` has the covariance for a standard normal `z`.
    root: Vec<f32>,
}

impl Like {
    fn of(rows: &[Vec<f32>]) -> Like {
        let components = Components::of(rows);
        let scaled: Vec<Vec<f64>> = components
            .directions
            .iter()
            .zip(&components.variances)
            .map(|(d, v)| d.iter().map(|x| x * v.max(0.0).sqrt()).collect())
            .collect();
        Like {
            mean: components.mean.iter().map(|&m| m as f32).collect(),
            root: (0..DIM)
                .flat_map(|r| scaled.iter().map(move |column| column[r] as f32))
                .collect(),
        }
    }

    /// Vector `i` of the stream `seed`: the same on every run, drawn in any order.
    fn point(&self, seed: u64, i: u64) -> Vec<f32> {
        let mut unit = Unit(seed ^ (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        // Box-Muller over the stream's uniform values in (0, 1].
        let z: Vec<f32> = (0..DIM)
            .map(|_| {
                let (u, v) = (0.5 + unit.uniform() / 2.0, unit.uniform());
                (-2.0 * u.max(1e-6).ln()).sqrt() * (std::f32::consts::PI * v).cos()
            })
            .collect();
        let v = self
            .root
            .chunks_exact(DIM)
            .zip(&self.mean)
            .map(|(line, m)| m + line.iter().zip(&z).map(|(a, b)| a * b).sum::<f32>())
            .collect();
        synthetic::unit(v)
    }
}

/// Rows drawn per rayon batch from a [`Like`].
const LIKE_BATCH: u64 = 16_384;

/// Where the rows and the queries come from.
enum Source {
    Uniform,
    LowRank(usize),
    File(Vec<Vec<f32>>),
    Like(Like),
}

/// Another seed than the rows' for the queries.
const QUERY_SEED: u64 = 0x2545_f491_4f6c_dd1d;

impl Source {
    fn rows(&self, n: u64) -> Box<dyn Iterator<Item = Vec<f32>> + '_> {
        match self {
            Source::Uniform => {
                let mut unit = Unit::rows();
                Box::new((0..n).map(move |_| unit.next()))
            }
            Source::LowRank(rank) => {
                let mut points = LowRank::new(*rank, Unit::rows().0);
                Box::new((0..n).map(move |_| points.point()))
            }
            Source::File(rows) => Box::new(rows.iter().cloned()),
            Source::Like(like) => Box::new((0..n.div_ceil(LIKE_BATCH)).flat_map(move |b| {
                (b * LIKE_BATCH..((b + 1) * LIKE_BATCH).min(n))
                    .into_par_iter()
                    .map(|i| like.point(Unit::rows().0, i))
                    .collect::<Vec<_>>()
            })),
        }
    }

    fn name(&self) -> String {
        match self {
            Source::Uniform => "uniform".into(),
            Source::LowRank(rank) => format!("near a subspace of {rank}"),
            Source::File(_) => "rows of a file, queried by 500 of them".into(),
            Source::Like(_) => "normal with a file's rows' mean and covariance".into(),
        }
    }

    fn queries(&self) -> Vec<Vec<f32>> {
        match self {
            Source::Uniform => {
                let mut unit = Unit(QUERY_SEED);
                (0..QUERIES).map(|_| unit.next()).collect()
            }
            Source::LowRank(rank) => {
                let mut points = LowRank::new(*rank, QUERY_SEED);
                (0..QUERIES).map(|_| points.point()).collect()
            }
            Source::File(rows) => (0..QUERIES)
                .map(|i| rows[i * rows.len() / QUERIES].clone())
                .collect(),
            Source::Like(like) => (0..QUERIES as u64)
                .map(|i| like.point(QUERY_SEED, i))
                .collect(),
        }
    }
}

fn measure(source: &Source, n: u64, storage: Storage, built: GraphParams, keep: Option<&Path>) {
    let temp = tempfile::tempdir().unwrap();
    let dir = match (storage, keep) {
        (Storage::F32, Some(keep)) => keep,
        _ => temp.path(),
    };
    std::fs::create_dir_all(dir).unwrap();
    let vectors = synthetic::write_rows(dir, storage, source.rows(n));
    let n = vectors.len();
    let queries = source.queries();
    let exact: Vec<Vec<u64>> = queries
        .iter()
        .map(|q| vectors.nearest(q, 10).iter().map(|s| s.position).collect())
        .collect();
    if storage == Storage::F32
        && let Some(keep) = keep
    {
        write_le(
            &keep.join("queries.bin"),
            &queries.concat(),
            f32::to_le_bytes,
        );
        write_le(&keep.join("exact.bin"), &exact.concat(), u64::to_le_bytes);
    }
    let before = proc::status_mib("VmRSS");
    let started = Instant::now();
    let mut checked = None;
    let repair = Graph::build(dir, &vectors, &built, &mut |phase, _, _| {
        if phase == Phase::GraphCheck {
            checked.get_or_insert_with(Instant::now);
        }
    })
    .unwrap();
    let build_secs = started.elapsed().as_secs_f64();
    let check_secs = checked.map_or(0.0, |t| t.elapsed().as_secs_f64());
    let graph_bytes = std::fs::metadata(dir.join("graph.usearch")).unwrap().len();
    let rows_bytes = std::fs::metadata(dir.join("vectors.bin")).unwrap().len();
    println!(
        "{storage:?}, {}: {n} rows × {} ({:.0} MiB); graph M {} efConstruction {} built in {build_secs:.1} s on {} threads ({check_secs:.1} s of it looking for each row, {} added again, {} still missed), {:.0} MiB file ({:.0} B a row; {:.0} B beyond the row's values), peak RSS of the process {:.0} MiB (before the build {before:.0} MiB)",
        source.name(),
        queries[0].len(),
        mib(rows_bytes),
        built.connectivity,
        built.ef_construction,
        rayon::current_num_threads(),
        repair.added_again,
        repair.unreached,
        mib(graph_bytes),
        graph_bytes as f64 / n as f64,
        (graph_bytes as f64 - rows_bytes as f64) / n as f64,
        proc::status_mib("VmHWM"),
    );
    for ef in EFS {
        let params = GraphParams {
            ef_search: ef,
            ..built
        };
        report(dir, &vectors, &params, &queries, &exact);
    }
}

/// One ef: overlap@10, sequential p50/p99, batched queries/s and the resident maps.
fn report(
    dir: &Path,
    vectors: &Vectors,
    params: &GraphParams,
    queries: &[Vec<f32>],
    exact: &[Vec<u64>],
) {
    let graph = Graph::open(dir, params, vectors).unwrap();
    let mut times = Vec::with_capacity(queries.len());
    let mut found = 0;
    for (query, exact) in queries.iter().zip(exact) {
        let started = Instant::now();
        let hits = graph.nearest(vectors, query, 10).unwrap();
        times.push(started.elapsed().as_secs_f64() * 1e3);
        found += hits.iter().filter(|h| exact.contains(&h.position)).count();
    }
    times.sort_by(f64::total_cmp);
    let started = Instant::now();
    queries.par_iter().for_each(|q| {
        std::hint::black_box(graph.nearest(vectors, q, 10).unwrap());
    });
    let batched = queries.len() as f64 / started.elapsed().as_secs_f64();
    println!(
        "  ef {:>3}: overlap@10 {:.4}; one thread p50 {:.2} ms, p99 {:.2} ms; batched {batched:.0} queries/s; resident: graph {:.0} MiB, rows {:.0} MiB, process {:.0} MiB",
        params.ef_search,
        found as f64 / (10 * queries.len()) as f64,
        quantile(&times, 0.5),
        quantile(&times, 0.99),
        proc::mapped_mib("graph.usearch"),
        proc::mapped_mib("vectors.bin"),
        proc::status_mib("VmRSS"),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The first number that is not an option's value.
    let n: u64 = args
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || !args[i - 1].starts_with("--"))
        .find_map(|(_, a)| a.parse().ok())
        .unwrap_or(1_000_000);
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let keep = option("--keep").map(Path::new);
    let number = |name: &str, default: usize| option(name).map_or(default, |v| v.parse().unwrap());
    let shipped = GraphParams::default();
    let params = GraphParams {
        connectivity: number("--m", shipped.connectivity),
        ef_construction: number("--ef-construction", shipped.ef_construction),
        reduced: option("--dims").map(|dims| Reduced {
            dims: dims.parse().unwrap(),
            rerank: number("--rerank", 100),
        }),
        ..shipped
    };
    let named: Vec<Storage> = args
        .iter()
        .filter_map(|a| serde_json::from_str(&format!("\"{a}\"")).ok())
        .collect();
    let storages = if named.is_empty() {
        vec![Storage::F32, Storage::F16, Storage::I8]
    } else {
        named
    };
    // The rows' length in a file (`--rows` of another model than MiniLM: 768 for e5 or mpnet).
    let dim = number("--dim", DIM);
    let read_rows = |file: &str| -> Vec<Vec<f32>> {
        std::fs::read(file)
            .unwrap()
            .chunks_exact(4 * dim)
            .map(|row| {
                row.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            })
            .collect()
    };
    let source = match (option("--rank"), option("--rows"), option("--like")) {
        (Some(rank), _, _) => Source::LowRank(rank.parse().unwrap()),
        (None, Some(file), _) => Source::File(read_rows(file)),
        (None, None, Some(file)) => Source::Like(Like::of(&read_rows(file))),
        (None, None, None) => Source::Uniform,
    };
    for storage in storages {
        measure(&source, n, storage, params, keep);
    }
}
