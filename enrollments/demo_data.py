"""The words the demo data is made of: names, titles, subjects and certificate templates (SPEC §6)."""

FIRST_NAMES = [
    "Aaliyah", "Adrien", "Aiko", "Alejandro", "Amara", "Anders", "Anika", "Arjun", "Beatriz", "Bjorn",
    "Carmen", "Chen", "Chiara", "Dario", "Dmitri", "Elif", "Emeka", "Emma", "Farah", "Felix",
    "Freya", "Gabriel", "Hana", "Hugo", "Ines", "Isak", "Jamal", "Jana", "Jonas", "Kaito",
    "Kavya", "Lars", "Leila", "Lena", "Luca", "Maya", "Mateo", "Mei", "Nadia", "Nils",
    "Noah", "Olga", "Omar", "Paula", "Priya", "Rafael", "Rosa", "Sami", "Sofia", "Tariq",
    "Thea", "Tomas", "Valentina", "Wei", "Yara", "Yusuf", "Zoe", "Ivan", "Marta", "Oscar",
]  # fmt: skip
LAST_NAMES = [
    "Abe", "Almeida", "Andersen", "Bauer", "Bianchi", "Brennan", "Castro", "Costa", "Dubois", "Eriksen",
    "Fischer", "Garcia", "Haddad", "Hansen", "Ibrahim", "Ivanova", "Jensen", "Kaur", "Kim", "Kowalski",
    "Larsen", "Lefebvre", "Lopez", "Mahmoud", "Martin", "Meyer", "Moreau", "Nakamura", "Novak", "Okafor",
    "Olsen", "Patel", "Pereira", "Petrov", "Ricci", "Rossi", "Sato", "Schmidt", "Silva", "Singh",
    "Suzuki", "Tanaka", "Torres", "Valdez", "Varga", "Wagner", "Wang", "Weber", "Yilmaz", "Zhang",
]  # fmt: skip
LANGUAGES = ["en", "de", "fr", "es", "it", "ja"]
LANGUAGE_WEIGHTS = [60, 12, 10, 8, 6, 4]
PLAN_TITLES = [
    "Workplace Safety Essentials",
    "Data Protection and Privacy",
    "New Manager Onboarding",
    "Customer Service Excellence",
    "Information Security Awareness",
    "Leadership Foundations",
    "Anti-Bribery and Compliance",
    "Sales Fundamentals",
]
COURSE_SUBJECTS = [
    "Hazard Identification", "Fire Safety", "First Aid Basics", "GDPR in Practice", "Handling Personal Data",
    "Phishing and Social Engineering", "Password Hygiene", "Giving Feedback", "Running One-to-Ones",
    "Hiring Well", "Active Listening", "Handling Complaints", "Code of Conduct", "Conflicts of Interest",
    "Negotiation Basics", "Time Management", "Presenting with Confidence", "Ergonomics at the Desk",
    "Incident Reporting", "Coaching Conversations", "Remote Collaboration", "Accessibility Basics",
]  # fmt: skip
MATERIAL_KINDS = ["video", "document", "quiz", "scorm"]
CERTIFICATE_TEMPLATES = [
    (
        "Classic certificate",
        """<html><head><style>
  @page { size: A4 landscape; margin: 1.5cm; }
  body { font-family: "DejaVu Serif", serif; text-align: center; color: #1f2937;
         border: 6px double #1e3a8a; padding: 1.5cm; }
  h1 { font-size: 34pt; color: #1e3a8a; margin: 0.5cm 0; }
  .name { font-size: 26pt; font-weight: bold; }
</style></head><body>
  <h1>Certificate of completion</h1>
  <p>This certifies that</p><p class="name">{{ learner_name }}</p>
  <p>has completed the learning plan</p><p class="name">{{ plan_title }}</p>
  <p>Completed on {{ completed_on }} &middot; {{ credits }} CEUs</p>
</body></html>""",
    ),
    (
        "Modern certificate",
        """<html><head><style>
  @page { size: A4 landscape; margin: 0; }
  body { font-family: "DejaVu Sans", sans-serif; margin: 0; color: #111827; }
  .band { background: #0f766e; color: white; padding: 1.2cm 2cm; font-size: 28pt; }
  .body { padding: 1.5cm 2cm; font-size: 14pt; }
  .name { font-size: 24pt; font-weight: bold; }
</style></head><body>
  <div class="band">{{ plan_title }}</div>
  <div class="body"><p class="name">{{ learner_name }}</p>
  <p>completed this learning plan on {{ completed_on }}, earning {{ credits }} CEUs.</p>
  <p>Issued {{ issued_on }}</p></div>
</body></html>""",
    ),
]
