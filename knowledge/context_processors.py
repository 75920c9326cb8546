from django.http import HttpRequest

from knowledge import roles as role_rules


def roles(request: HttpRequest) -> dict:
    """Expose the user's role flags to every template (menus show what the role may do)."""
    # Error pages rendered before AuthenticationMiddleware ran have no user: a customer.
    user = getattr(request, "user", None)
    return {
        "kb_role": role_rules.role_name(user),
        "kb_is_agent": role_rules.is_agent(user),
        "kb_is_editor": role_rules.is_editor(user),
        "kb_can_review": role_rules.can_review(user),
        "kb_is_admin": role_rules.is_admin(user),
    }
