"""File ▸ Company details…: the sender printed on confirmations and packing slips."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.config import (
    MAX_COMPANY_TEXT,
    CompanyProfile,
    CompanyProfileError,
    load_company_profile,
    save_company_profile,
)


class CompanyDialog(QDialog):
    """Edit and save the company details; errors appear beside the form, nothing is saved
    until every field is valid."""

    def __init__(self, parent: QWidget | None = None, path: Path | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("companyDialog")
        self.setWindowTitle("Company details")
        self._path = path
        try:
            profile = load_company_profile(path)
            problem = ""
        except CompanyProfileError as exc:
            profile, problem = CompanyProfile(), str(exc)
        self.name = QLineEdit(profile.name, self)
        self.name.setObjectName("companyName")
        self.name.setMaxLength(MAX_COMPANY_TEXT)
        self.address = QPlainTextEdit(profile.address, self)
        self.address.setObjectName("companyAddress")
        self.address.setTabChangesFocus(True)
        self.address.setMinimumHeight(80)
        self.email = QLineEdit(profile.email, self)
        self.email.setObjectName("companyEmail")
        self.email.setMaxLength(MAX_COMPANY_TEXT)
        self.phone = QLineEdit(profile.phone, self)
        self.phone.setObjectName("companyPhone")
        self.phone.setMaxLength(MAX_COMPANY_TEXT)
        self.logo = QLineEdit(str(profile.logo_path or ""), self)
        self.logo.setObjectName("companyLogo")
        self.logo.setPlaceholderText("PNG or JPEG file (optional)")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        logo_row = QHBoxLayout()
        logo_row.addWidget(self.logo, 1)
        logo_row.addWidget(browse)
        self.error = QLabel(problem, self)
        self.error.setObjectName("companyError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("QLabel { color: #b00020; }")
        self.error.setMinimumHeight(self.fontMetrics().lineSpacing() * 2)
        form = QFormLayout()
        form.addRow("Company &name:", self.name)
        form.addRow("&Address:", self.address)
        form.addRow("&Email:", self.email)
        form.addRow("&Phone:", self.phone)
        form.addRow("&Logo:", logo_row)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        for field in (self.name, self.email, self.phone, self.logo):
            field.textChanged.connect(lambda _t: self.error.setText(""))
        self.setTabOrder(self.name, self.address)
        self.setTabOrder(self.address, self.email)
        self.setTabOrder(self.email, self.phone)
        self.setTabOrder(self.phone, self.logo)
        self.setTabOrder(self.logo, browse)
        self.name.setFocus(Qt.FocusReason.OtherFocusReason)

    def _browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Company logo", self.logo.text(), "Images (*.png *.jpg *.jpeg)"
        )
        if name:
            self.logo.setText(name)

    def profile(self) -> CompanyProfile | str:
        """The profile the form describes, or a message saying what to fix."""
        name = self.name.text().strip()
        if not name:
            return "Enter the company name."
        address = self.address.toPlainText().strip()
        if len(address) > MAX_COMPANY_TEXT:
            return f"The address can have at most {MAX_COMPANY_TEXT} characters."
        logo_text = self.logo.text().strip()
        logo = Path(logo_text) if logo_text else None
        if logo is not None and QImage(str(logo)).isNull():
            return f"The logo {logo} is not an image Order Desk can read (PNG or JPEG)."
        return CompanyProfile(
            name=name,
            address=address,
            email=self.email.text().strip(),
            phone=self.phone.text().strip(),
            logo_path=logo,
        )

    def save(self) -> None:
        """Save and close, or show what to fix and keep everything typed."""
        profile = self.profile()
        if isinstance(profile, str):
            self.error.setText(profile)
            return
        try:
            save_company_profile(profile, self._path)
        except OSError as exc:
            self.error.setText(f"The details could not be saved: {exc.strerror or exc}")
            return
        self.accept()
