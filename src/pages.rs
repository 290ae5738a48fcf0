//! Listings as streams: the one pager every vendor's listings share.
//!
//! A vendor says how to fetch the page at a cursor and, from what came
//! back, which cursor comes next (none at the end: each vendor has its own
//! rule for that). The stream fetches a page only once the previous one is
//! consumed, and ends at the first error.

use crate::Result;
use futures::stream::{self, BoxStream, StreamExt as _, TryStreamExt as _};
use std::future::Future;

/// The items of every page from `first` on: `fetch(cursor)` gives a page's
/// items and the next cursor.
pub(crate) fn pages<C, T, F, Fut>(first: C, fetch: F) -> BoxStream<'static, Result<T>>
where
    C: Send + 'static,
    T: Send + 'static,
    F: FnMut(C) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(Vec<T>, Option<C>)>> + Send + 'static,
{
    stream::try_unfold((Some(first), fetch), |(cursor, mut fetch)| async move {
        let Some(cursor) = cursor else {
            return Ok::<_, crate::Error>(None);
        };
        let (items, next) = fetch(cursor).await?;
        Ok(Some((
            stream::iter(items.into_iter().map(Ok)),
            (next, fetch),
        )))
    })
    .try_flatten()
    .boxed()
}
