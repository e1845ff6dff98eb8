from django.http import HttpResponse


def plan_list(request):
    return HttpResponse("plans")


def plan_enrollments(request, plan_id):
    return HttpResponse("enrollments")
