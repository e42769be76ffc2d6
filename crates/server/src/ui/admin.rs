//! The admin screens' index (`/ui/admin`): one menu entry leads here, to each screen with what
//! it is for in the front desk's words, so the header stays one line. Users is listed only for
//! administrators, who alone may open it.

use super::layout::{self, Nav};
use super::session::UiUser;
use crate::auth::Permission;
use crate::state::AppState;
use axum::extract::State;
use maud::{html, Markup};

/// GET `/ui/admin`.
pub async fn page(user: UiUser, State(state): State<AppState>) -> Markup {
    let server = state.writer.server().to_string();
    let body = html! {
        h1 { "Admin" }
        section.card {
            ul.plain data-testid="admin-screens" {
                li { a href="/ui/rooms" { "Rooms" } " — rooms of a property, out of order and back in service" }
                li { a href="/ui/rate-plans" { "Rate plans" } " — prices per room type and season, and how a change is re-priced" }
                li { a href="/ui/allotments" { "Allotments" } " — which server holds how many rooms each night; give or request units" }
                @if user.may(Permission::Admin) {
                    li { a href="/ui/users" { "Users" } " — who may log in, with which roles, on which servers" }
                }
                li { a href="/ui/environment" { "Environment" } " — servers, the master, PMS links (General Reset), pending operations" }
            }
        }
    };
    layout::page(&user, &server, Nav::Admin, "Admin", body)
}
