"""The book's lab: named recipes, stored studies and what they show, the class merge."""
