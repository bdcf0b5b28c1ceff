//! Expansion snapshots: the shapes users care about, pretty-printed and
//! compared with `tests/snapshots/*.rs`. Run with `UPDATE_SNAPSHOTS=1` to
//! write them after a deliberate change, then review the diff.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};

use crate::monitored::expand;

fn snapshot(name: &str, args: TokenStream, item: TokenStream) {
    snapshot_of(name, expand(args, item));
}

fn snapshot_of(name: &str, expanded: TokenStream) {
    let file: syn::File = syn::parse2(expanded).expect("the expansion is valid Rust");
    let actual = prettyplease::unparse(&file);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.rs"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot at {}: run with UPDATE_SNAPSHOTS=1 to write it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "the expansion differs from {} (- expected, + actual); run with UPDATE_SNAPSHOTS=1 \
         to accept it:\n{}",
        path.display(),
        diff(&expected, &actual),
    );
}

/// The README shows expansions as they are: each code block after a
/// `<!-- snapshot: NAME -->` line is the snapshot `NAME`, written into the
/// README by `UPDATE_SNAPSHOTS=1` with the snapshots themselves.
#[test]
fn the_readme_shows_the_snapshots() {
    const MARK: &str = "<!-- snapshot: ";
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme_path = root.join("../README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("the workspace's README");
    let mut out = String::new();
    let mut rest = readme.as_str();
    let mut shown = 0;
    while let Some(at) = rest.find(MARK) {
        let (before, marked) = rest.split_at(at);
        let name_end = marked.find(" -->").expect("a snapshot mark ends with -->");
        let name = &marked[MARK.len()..name_end];
        let open = marked
            .find("```rust\n")
            .expect("a rust block after the mark")
            + 8;
        let close = open + marked[open..].find("```\n").expect("the block ends");
        let path = root.join("tests/snapshots").join(name);
        let snapshot = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("the README names {}, which is missing", path.display()));
        if std::env::var_os("UPDATE_SNAPSHOTS").is_none() {
            assert!(
                marked[open..close] == snapshot,
                "the README's block of {name} differs from the snapshot (- README, + snapshot); \
                 run with UPDATE_SNAPSHOTS=1 to write it:\n{}",
                diff(&marked[open..close], &snapshot)
            );
        }
        out += before;
        out += &marked[..open];
        out += &snapshot;
        rest = &marked[close..];
        shown += 1;
    }
    out += rest;
    assert!(shown > 0, "the README shows no snapshot");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() && out != readme {
        std::fs::write(&readme_path, out).unwrap();
    }
}

/// A line diff (longest common subsequence), enough for small files.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut common = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] = if a[i] == b[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out += &format!("  {}\n", a[i]);
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || common[i + 1][j] >= common[i][j + 1]) {
            out += &format!("- {}\n", a[i]);
            i += 1;
        } else {
            out += &format!("+ {}\n", b[j]);
            j += 1;
        }
    }
    out
}

#[test]
fn sync() {
    snapshot(
        "sync",
        quote!(max_active = 10),
        quote! {
            /// Parses a number.
            pub fn parse(input: String) -> Result<u32, Error> {
                Ok(input.parse()?)
            }
        },
    );
}

#[test]
fn sync_timeout() {
    snapshot(
        "sync_timeout",
        quote!(
            timeout = "1.5s",
            max_active = 8,
            alert = 100s,
            name = "files.read"
        ),
        quote! {
            fn read(path: PathBuf) -> Result<Vec<u8>, Error> {
                std::fs::read(path)
            }
        },
    );
}

#[test]
fn r#async() {
    snapshot(
        "async",
        quote!(timeout = 50ms, max_active = 10),
        quote! {
            async fn fetch_user(id: u64) -> Result<impl Display, Error> {
                let user = db::get(id).await?;
                Ok(user.name)
            }
        },
    );
}

#[test]
fn method() {
    snapshot(
        "method",
        quote!(timeout = 5s, on_timeout = detach, crate = "my_app::monitor"),
        quote! {
            pub(crate) async fn flush(self: Arc<Self>) -> Result<(), Error> {
                self.sink.flush().await
            }
        },
    );
}

/// Which `.await`s say where the call waits: those of the body, of the
/// `async` blocks and closures in it; not those of macro input or of
/// nested items.
#[test]
fn async_awaits() {
    snapshot(
        "async_awaits",
        quote!(),
        quote! {
            async fn quotes(ids: Vec<u64>) -> Vec<Quote> {
                let first = async { fetch(ids[0]).await };
                let rest = join_all(ids[1..].iter().map(|&id| async move { fetch(id).await }));
                let (first, mut rest) = tokio::join!(first, rest.into_future());
                fn helper() -> impl Future<Output = ()> {
                    async { tick().await }
                }
                helper().await;
                rest.push(first);
                rest
            }
        },
    );
}

/// What `#[monitored]` sees under `#[async_trait]`: the future is
/// monitored, not the call that makes it.
#[test]
fn async_trait() {
    snapshot(
        "async_trait",
        quote!(max_active = 2),
        quote! {
            fn get<'life0, 'async_trait>(
                &'life0 self,
            ) -> Pin<Box<dyn Future<Output = Result<u32, Error>> + Send + 'async_trait>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                Box::pin(async move { Ok(self.value) })
            }
        },
    );
}

/// An error keeps the function as it was.
#[test]
fn error() {
    snapshot(
        "error",
        quote!(timout = 5s),
        quote! {
            fn work() -> Result<(), Error> {
                Ok(())
            }
        },
    );
}

#[test]
fn diff_marks_changes() {
    assert_eq!(diff("a\nb\nc", "a\nx\nc"), "  a\n- b\n+ x\n  c\n");
}

fn stack_snapshot(name: &str, args: TokenStream, item: TokenStream) {
    snapshot_of(name, crate::stack_on_timeout::expand(args, item));
}

#[test]
fn stack_sync() {
    stack_snapshot(
        "stack_sync",
        quote!(5s),
        quote! {
            fn work(x: u32) -> u32 {
                x + 1
            }
        },
    );
}

#[test]
fn stack_async() {
    stack_snapshot(
        "stack_async",
        quote!(timeout = "250ms", name = "jobs.work"),
        quote! {
            /// Works.
            pub async fn work(&self, x: u32) -> Result<impl Display, Error> {
                let y = self.fetch(x).await?;
                Ok(y)
            }
        },
    );
}

/// `#[stack_on_timeout]` on what `#[monitored]` made of an `#[async_trait]`
/// method: the future is watched, not the call that makes it.
#[test]
fn stack_over_monitored_async_trait() {
    let monitored = expand(
        quote!(max_active = 2),
        quote! {
            #[stack_on_timeout(1s)]
            fn get<'life0, 'async_trait>(
                &'life0 self,
            ) -> Pin<Box<dyn Future<Output = Result<u32, Error>> + Send + 'async_trait>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                Box::pin(async move { Ok(self.value().await) })
            }
        },
    );
    // The `.await` is rewritten once, by the attribute that expands first.
    assert_eq!(monitored.to_string().matches("awaiting").count(), 1);
    let mut func: syn::ItemFn = syn::parse2(monitored).unwrap();
    let attr = func.attrs.remove(0);
    let syn::Meta::List(list) = attr.meta else {
        panic!("#[stack_on_timeout(1s)] is kept");
    };
    stack_snapshot(
        "stack_over_monitored_async_trait",
        list.tokens,
        func.to_token_stream(),
    );
}

/// An error keeps the function as it was.
#[test]
fn stack_error() {
    stack_snapshot(
        "stack_error",
        quote!(),
        quote! {
            const fn work() -> u32 {
                1
            }
        },
    );
}

fn supervised_snapshot(name: &str, args: TokenStream, item: TokenStream) {
    snapshot_of(name, crate::supervised::expand(args, item));
}

#[test]
fn supervised_async() {
    supervised_snapshot(
        "supervised_async",
        quote!(heartbeat = "100ms", max_restarts = 5, within = "10s"),
        quote! {
            pub async fn poller(beat: Heartbeat, stop: StopSignal) -> Result<(), Error> {
                poll(beat, stop).await
            }
        },
    );
}

#[test]
fn supervised_sync() {
    supervised_snapshot(
        "supervised_sync",
        quote!(heartbeat = 1s, restart = transient, grace = 50ms),
        quote! {
            fn indexer(beat: Heartbeat) -> Result<(), String> {
                index(&beat)
            }
        },
    );
}
