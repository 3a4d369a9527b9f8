//! The admin API's membership plans: `/api/v1/admin/memberships` and `/api/v1/admin/memberships/{id}` (`GET`, `POST`, `PATCH`,
//! `DELETE`). The handlers' bodies are shared by the catalog resources
//! ([`crate::routes::admin::catalog`]); the rules are in `cohai_services::catalog_admin`.

crate::routes::admin::catalog::admin_catalog_resource! {
    entity = MembershipPlan,
    input = MembershipPlanInput,
    create_body = NewMembershipPlanInput,
    service = membership_plans,
    view = AdminMembershipPlan,
    list_type = AdminMembershipPlanList,
    noun = "membership plan",
    create_invalid = ": a `location_id` that names no location, or a name with no visible character",
    path = "/api/v1/admin/memberships",
    item_path = "/api/v1/admin/memberships/{id}",
    ids = ("listAdminMembershipPlans", "getAdminMembershipPlan", "createMembershipPlan", "updateMembershipPlan", "deleteMembershipPlan"),
}
