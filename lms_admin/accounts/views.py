"""Sign-in and sign-out pages."""

from django.contrib.auth import views as auth_views


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """Signs out on POST (the navigation's button), then back to the login page."""
