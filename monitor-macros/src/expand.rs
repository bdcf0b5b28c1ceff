//! What the expansions of the three macros share: parsing the arguments
//! and the function with the errors of both ([`attribute`]), the item as
//! it was plus the errors on failure, and the parts of the code they
//! generate: how the body runs and the wrapper that hands it to the
//! runtime ([`wrap`]), the `.await`s of an async body rewritten to say
//! where the call waits ([`Awaits`]), the inference help for its return,
//! the path to the runtime, the function's name and location, `Duration`
//! constructors.

use proc_macro2::{Delimiter, Group, Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::Parse;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{AttrStyle, Expr, Item, ItemFn, ReturnType, Stmt, TraitItemFn, Type};

use crate::args::Shared;

/// Expands `#[attr(args)] item`: parses the arguments and the function,
/// reporting the errors of both, and those `check` finds in the function
/// alone, at once; then `generate` builds the expansion.
pub(crate) fn attribute<A: Parse>(
    attr: &str,
    args: TokenStream,
    item: TokenStream,
    check: impl FnOnce(&ItemFn) -> Option<syn::Error>,
    generate: impl FnOnce(A, ItemFn) -> syn::Result<TokenStream>,
) -> TokenStream {
    or_original(item, |item| {
        let func = parse_fn(item, attr).and_then(|func| match check(&func) {
            Some(error) => Err(error),
            None => Ok(func),
        });
        let (args, func) = both(syn::parse2::<A>(args), func)?;
        generate(args, func)
    })
}

/// Both values, or the errors of both.
fn both<A, B>(a: syn::Result<A>, b: syn::Result<B>) -> syn::Result<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(mut error), Err(more)) => {
            error.combine(more);
            Err(error)
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    }
}

/// Runs `expand` on `item`. On any error, the item comes back unchanged,
/// followed by the errors, so that the rest of the crate (and the IDE)
/// still sees the function.
fn or_original(
    item: TokenStream,
    expand: impl FnOnce(TokenStream) -> syn::Result<TokenStream>,
) -> TokenStream {
    match expand(item.clone()) {
        Ok(expanded) => expanded,
        Err(error) => {
            let mut item = item;
            item.extend(error.into_compile_error());
            item
        }
    }
}

/// Parses the item as a function, or explains why `#[attr]` does not
/// apply to it.
fn parse_fn(item: TokenStream, attr: &str) -> syn::Result<ItemFn> {
    let fn_error = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(func) => return Ok(func),
        Err(error) => error,
    };
    let what = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Struct(_)) => "a struct",
        Ok(Item::Enum(_)) => "an enum",
        Ok(Item::Union(_)) => "a union",
        Ok(Item::Const(_)) => "a const",
        Ok(Item::Static(_)) => "a static",
        Ok(Item::Impl(_)) => "an impl block: put it on each method",
        Ok(Item::Trait(_)) => "a trait",
        Ok(Item::Mod(_)) => "a module",
        Ok(Item::Type(_)) => "a type alias",
        Ok(Item::Verbatim(_)) if syn::parse2::<TraitItemFn>(item).is_ok() => {
            return Err(syn::Error::new(
                Span::call_site(),
                format!(
                    "`#[{attr}]` needs a function body: put it on the method in each `impl`, \
                     or give this declaration a default body"
                ),
            ));
        }
        Ok(_) => "this item",
        Err(_) => return Err(fn_error),
    };
    Err(syn::Error::new(
        Span::call_site(),
        format!("`#[{attr}]` applies to functions, not to {what}"),
    ))
}

/// An error at `const` of a `const fn`: `why` says why `#[attr]` needs
/// run time.
pub(crate) fn reject_const(func: &ItemFn, attr: &str, why: &str) -> Option<syn::Error> {
    let constness = func.sig.constness.as_ref()?;
    Some(syn::Error::new(
        constness.span,
        format!("`#[{attr}]` does not apply to a `const fn`: {why}"),
    ))
}

/// How the function's body runs.
pub(crate) enum Body<'a> {
    /// A sync body: run in a closure.
    Sync,
    /// An `async fn`: its body is wrapped in an `async move` block.
    Async,
    /// A sync function whose last expression is `async move { .. }` or
    /// `Box::pin(async move { .. })`, as `#[async_trait]` writes them: that
    /// future is what gets monitored. So is what `#[monitored]` or
    /// `#[stack_on_timeout]` made of such a future, when the other one of
    /// the two expanded first.
    Future {
        before: &'a [Stmt],
        boxed: Option<&'a Expr>,
        future: &'a Expr,
    },
}

impl<'a> Body<'a> {
    pub(crate) fn of(func: &'a ItemFn) -> Self {
        if func.sig.asyncness.is_some() {
            return Body::Async;
        }
        let Some((Stmt::Expr(last, None), before)) = func.block.stmts.split_last() else {
            return Body::Sync;
        };
        let (boxed, future) = match last {
            Expr::Call(call) if call.args.len() == 1 && is_box_pin(&call.func) => {
                (Some(&*call.func), &call.args[0])
            }
            last => (None, last),
        };
        if is_future(future) {
            Body::Future {
                before,
                boxed,
                future,
            }
        } else {
            Body::Sync
        }
    }

    pub(crate) fn is_async(&self) -> bool {
        !matches!(self, Body::Sync)
    }
}

/// An `async` block, or a call into the runtime's `__private` module that
/// takes one (the expansion of the other attribute).
fn is_future(expr: &Expr) -> bool {
    match expr {
        Expr::Async(_) => true,
        Expr::Call(call) => {
            let Expr::Path(path) = &*call.func else {
                return false;
            };
            path.path.segments.iter().any(|s| s.ident == "__private")
                && call.args.last().is_some_and(is_future)
        }
        _ => false,
    }
}

fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(path) = func else {
        return false;
    };
    let mut names = path.path.segments.iter().rev().map(|s| &s.ident);
    matches!((names.next(), names.next()), (Some(pin), Some(b)) if pin == "pin" && b == "Box")
}

/// What the runtime function the body is handed to takes.
#[derive(Clone, Copy)]
pub(crate) enum Takes {
    /// A closure that runs a sync body.
    Closure,
    /// The future of an async body.
    Future,
}

/// The function with its body handed to the runtime: the outer attributes
/// and the signature as they were, then the inner attributes, the `state`
/// item (the attribute's `static`), and one call, `callee(state_ref,
/// closure or future)`. `callee` gives the path of the runtime function,
/// spanned at the span it is given.
pub(crate) fn wrap(
    func: &ItemFn,
    body: &Body<'_>,
    shared: &Shared,
    state: &TokenStream,
    state_ref: &TokenStream,
    callee: impl Fn(Takes, Span) -> TokenStream,
) -> TokenStream {
    // `modifiers` is unstable syntax (`default fn`) that syn does not
    // print either.
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = func;
    let (outer, inner): (Vec<_>, Vec<_>) = attrs
        .iter()
        .partition(|attr| matches!(attr.style, AttrStyle::Outer));

    // What can fail to compile points at the user's code: the call into the
    // runtime, and the `async` block handed to it, at the return type (which
    // may have to carry the monitor's errors); a sync body that cannot move
    // to a worker thread at the body.
    let (ret_span, ret_ty) = match &sig.output {
        ReturnType::Type(_, ty) => (ty.span(), erase_impl_trait(ty)),
        ReturnType::Default => (sig.ident.span(), None),
    };
    let body_span = block.span();
    let call = match body {
        Body::Sync => {
            let callee = callee(Takes::Closure, ret_span);
            let ret = ret_ty.map(|ty| quote!(-> #ty));
            let closure = quote_spanned!(body_span=> move || #ret #block);
            quote_spanned!(ret_span=> #callee(#state_ref, #closure))
        }
        Body::Async => {
            let callee = callee(Takes::Future, ret_span);
            let fake_return = ret_ty.map(|ty| fake_return(&ty, ret_span));
            // The block's statements, not the block: a block as the tail of
            // the `async` block would trip `unused_braces` on one-line bodies.
            let mut stmts = block.stmts.clone();
            let mut awaits = Awaits { shared };
            stmts
                .iter_mut()
                .for_each(|stmt| awaits.visit_stmt_mut(stmt));
            let future = quote_spanned!(ret_span=> async move { #fake_return #(#stmts)* });
            quote_spanned!(ret_span=> #callee(#state_ref, #future).await)
        }
        Body::Future {
            before,
            boxed,
            future,
        } => {
            let span = future.span();
            let callee = callee(Takes::Future, span);
            // An `async` block (`#[async_trait]`'s); not the expansion of
            // the other attribute, whose `.await`s are rewritten already.
            let mut future = (*future).clone();
            if let Expr::Async(block) = &mut future {
                Awaits { shared }.visit_expr_async_mut(block);
            }
            let call = quote_spanned!(span=> #callee(#state_ref, #future));
            match boxed {
                Some(boxed) => quote!(#(#before)* #boxed(#call)),
                None => quote!(#(#before)* #call),
            }
        }
    };
    // The braces keep the span of the user's, so that the item spans only
    // the user's code: otherwise rustc takes the function for generated
    // code and no longer warns when it is never used.
    let mut braces = Group::new(
        Delimiter::Brace,
        quote! {
            #(#inner)*
            #state
            #call
        },
    );
    braces.set_span(block.brace_token.span.join());
    quote! {
        #(#outer)*
        #vis #sig #braces
    }
}

/// Rewrites each `expr.await` of an async body to
/// `__private::awaiting(line!(), column!(), expr).await`, with the span of
/// the `await` keyword, so that a call parked there can say so: on
/// `Pending`, the runtime notes that line and column on the annotated call
/// being polled on this thread.
///
/// Covered: every `.await` of the body, including those inside the
/// `async` blocks and closures written in it. Such a block, polled as part
/// of the body (awaited, joined, raced), runs while the annotated call is
/// the one being polled, and when it is parked its innermost `.await`
/// is the line shown. A block spawned as a task of its own is polled
/// outside the call: its `.await`s note nothing. Not covered: the tokens of
/// macro invocations (`tokio::select!`, `join!`: a macro may stringify or
/// reshape its input), and nested items (a `fn` declared in the body is not
/// part of the call).
struct Awaits<'a> {
    shared: &'a Shared,
}

impl VisitMut for Awaits<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        if let Expr::Await(awaited) = expr {
            let span = awaited.await_token.span;
            let krate = krate(self.shared, Some(span));
            let attrs = &awaited.attrs;
            let base = &awaited.base;
            let line = quote_spanned!(span=> ::core::line!());
            let column = quote_spanned!(span=> ::core::column!());
            *expr = syn::parse_quote_spanned! {span=>
                #(#attrs)* #krate::__private::awaiting(#line, #column, #base).await
            };
        }
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}
}

/// The path to the runtime: `crate = ".."`, or `::monitor_runtime`. With
/// `span`, every token of it gets that span, so that an error about the
/// call it starts points there; without, a given path keeps the span of
/// its string, so that a wrong path is reported there.
pub(crate) fn krate(shared: &Shared, span: Option<Span>) -> TokenStream {
    match (&shared.krate, span) {
        (Some(path), None) => path.to_token_stream(),
        (Some(path), Some(span)) => path
            .to_token_stream()
            .into_iter()
            .map(|mut token| {
                token.set_span(span);
                token
            })
            .collect(),
        (None, span) => {
            let span = span.unwrap_or_else(Span::call_site);
            quote_spanned!(span=> ::monitor_runtime)
        }
    }
}

/// `name = ".."`, or `module::path::function`.
pub(crate) fn function_name(shared: &Shared, ident: &syn::Ident) -> TokenStream {
    match &shared.name {
        Some(name) => name.to_token_stream(),
        None => {
            let suffix = format!("::{}", syn::ext::IdentExt::unraw(ident));
            quote!(::core::concat!(::core::module_path!(), #suffix))
        }
    }
}

/// `file!(), line!()` of the function, for where the runtime shows it.
/// `line!()` is spanned at the function's name, so that it gives the line
/// of the `fn`, not of the attribute above it (or of the first attribute,
/// when there are several).
pub(crate) fn site_location(ident: &syn::Ident) -> TokenStream {
    let line = quote_spanned!(ident.span()=> ::core::line!());
    quote!(::core::file!(), #line)
}

/// A `Duration` constructor in the largest unit that is exact, so that the
/// expansion reads `from_millis(50)` rather than `from_nanos(50000000)`.
pub(crate) fn duration(krate: &TokenStream, nanos: u64) -> TokenStream {
    let (constructor, value) = [
        ("from_secs", 1_000_000_000),
        ("from_millis", 1_000_000),
        ("from_micros", 1_000),
    ]
    .into_iter()
    .find(|&(_, unit)| nanos.is_multiple_of(unit))
    .map_or(("from_nanos", nanos), |(constructor, unit)| {
        (constructor, nanos / unit)
    });
    let constructor = syn::Ident::new(constructor, Span::call_site());
    let value = Literal::u64_unsuffixed(value);
    quote!(#krate::__private::Duration::#constructor(#value))
}

/// A never-taken `return` of the declared type at the start of an async
/// block, so that the block's output type is known before its body is
/// checked: `?` and `.into()` in the body then infer as they would in the
/// function itself, and a mismatch points at the return type. Taken from
/// `tracing-attributes`.
fn fake_return(ty: &Type, span: Span) -> TokenStream {
    quote_spanned! {span=>
        #[allow(unreachable_code, clippy::empty_loop)]
        if false {
            let __monitor_fake_return: #ty = loop {};
            return __monitor_fake_return;
        }
    }
}

/// The return type with each `impl Trait` replaced by `_`, which a closure
/// annotation or a `let` accepts; `None` when nothing but `_` would remain.
fn erase_impl_trait(ty: &Type) -> Option<Type> {
    struct Eraser;
    impl VisitMut for Eraser {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                let underscore = syn::Token![_](impl_trait.impl_token.span);
                *ty = Type::Infer(syn::TypeInfer {
                    attrs: Vec::new(),
                    underscore_token: underscore,
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    Eraser.visit_type_mut(&mut ty);
    (!matches!(ty, Type::Infer(_))).then_some(ty)
}

/// Collects errors so that one expansion reports all of them.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

impl Extend<syn::Error> for Errors {
    fn extend<I: IntoIterator<Item = syn::Error>>(&mut self, errors: I) {
        errors.into_iter().for_each(|error| self.push(error));
    }
}
